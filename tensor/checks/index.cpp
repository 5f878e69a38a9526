#include "tensor/checks/index.h"

namespace difflab::tensor::checks {

namespace {

// Checks the index of gather/scatter_add against the tensor it indexes (`x`, sizes may only
// exceed the index's outside `dim`) and returns `dim` normalised.
int64_t check_gather_shapes(const char* op, const Tensor& x, const char* xname, int64_t dim,
                            const Tensor& index) {
  check_index_dtype(op, index);
  DIFFLAB_CHECK(index.dim() == x.dim(), op, ": index ", index.shape(),
                " must have as many dims as ", xname, " ", x.shape());
  DIFFLAB_CHECK(x.dim() >= 1, op, ": ", xname, " must have at least 1 dim, got ", x.shape());
  const int64_t d = normalize_dim(dim, x.dim(), op);
  for (int64_t j = 0; j < x.dim(); ++j)
    DIFFLAB_CHECK(j == d || index.shape()[j] <= x.shape()[j], op, ": index ", index.shape(),
                  " is larger than ", xname, " ", x.shape(), " in dim ", j, " (dim ", d,
                  " is the indexed one)");
  return d;
}

}  // namespace

Shape check_cat(const std::vector<Tensor>& xs, int64_t dim, CatDeviceRule rule, int64_t& d) {
  DIFFLAB_CHECK(!xs.empty(), "cat: expected at least one tensor");
  const Tensor& ref = xs[0];
  for (size_t i = 0; i < xs.size(); ++i) {
    DIFFLAB_CHECK(xs[i].defined(), "cat: tensor ", i, " is undefined");
    rule(xs[i], i, ref);
  }
  DIFFLAB_CHECK(ref.dim() >= 1, "cat: tensor 0 is zero-dimensional and cannot be concatenated");
  d = normalize_dim(dim, ref.dim(), "cat");
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    DIFFLAB_CHECK(x.dtype() == ref.dtype(), "cat: tensor ", i, " has dtype ", x.dtype(),
                  " but tensor 0 has dtype ", ref.dtype());
    bool ok = x.dim() == ref.dim();
    for (int64_t j = 0; ok && j < x.dim(); ++j)
      if (j != d && x.shape()[j] != ref.shape()[j]) ok = false;
    DIFFLAB_CHECK(ok, "cat: tensor ", i, " has shape ", x.shape(), " but tensor 0 has shape ",
                  ref.shape(), "; they must match in every dim except dim ", d);
    total += x.shape()[d];
  }
  Shape os = ref.shape();
  os[d] = total;
  return os;
}

void check_index_dtype(const char* op, const Tensor& index) {
  DIFFLAB_CHECK(index.dtype() == DType::i64, op, ": index must have dtype i64, got ", index.dtype(),
                " ", index.shape());
}

void fail_index_range(const char* op, int64_t value, int64_t size, int64_t dim,
                      const Shape& shape) {
  if (size == 0)
    DIFFLAB_FAIL(op, ": index ", value, " is out of range for dim ", dim, " of size 0 in ", shape,
                 " (no valid index)");
  DIFFLAB_FAIL(op, ": index ", value, " is out of range for dim ", dim, " of size ", size, " in ",
               shape, " (valid range [0, ", size - 1, "])");
}

int64_t check_index_select(const char* op, const Tensor& x, int64_t dim, const Tensor& index,
                           DeviceRule rule) {
  check_operand(op, x, "input", x, "input", rule);
  check_operand(op, x, "input", index, "index", rule);
  check_index_dtype(op, index);
  DIFFLAB_CHECK(index.dim() == 1, op, ": index must be 1-D, got ", index.shape());
  DIFFLAB_CHECK(x.dim() >= 1, op, ": input must have at least 1 dim, got ", x.shape());
  return normalize_dim(dim, x.dim(), op);
}

int64_t check_gather(const Tensor& x, int64_t dim, const Tensor& index, DeviceRule rule) {
  check_operand("gather", x, "input", x, "input", rule);
  check_operand("gather", x, "input", index, "index", rule);
  return check_gather_shapes("gather", x, "input", dim, index);
}

int64_t check_scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src,
                          DeviceRule rule) {
  check_operand("scatter_add", base, "base", base, "base", rule);
  check_operand("scatter_add", base, "base", index, "index", rule);
  check_operand("scatter_add", base, "base", src, "src", rule);
  DIFFLAB_CHECK(base.dtype() == src.dtype(), "scatter_add: base ", base.dtype(), base.shape(),
                " and src ", src.dtype(), src.shape(), " differ in dtype");
  const int64_t d = check_gather_shapes("scatter_add", base, "base", dim, index);
  DIFFLAB_CHECK(src.dim() == index.dim(), "scatter_add: src ", src.shape(), " and index ",
                index.shape(), " differ in rank");
  for (int64_t j = 0; j < src.dim(); ++j)
    DIFFLAB_CHECK(index.shape()[j] <= src.shape()[j], "scatter_add: index ", index.shape(),
                  " is larger than src ", src.shape(), " in dim ", j);
  return d;
}

Shape check_index_add(const Tensor& src, int64_t dim, const Tensor& index, int64_t size,
                      DeviceRule rule, int64_t& d) {
  check_operand("index_add", src, "src", src, "src", rule);
  check_operand("index_add", src, "src", index, "index", rule);
  check_index_dtype("index_add", index);
  DIFFLAB_CHECK(index.dim() == 1, "index_add: index must be 1-D, got ", index.shape());
  DIFFLAB_CHECK(src.dim() >= 1, "index_add: src must have at least 1 dim, got ", src.shape());
  DIFFLAB_CHECK(size >= 0, "index_add: negative output size ", size);
  d = normalize_dim(dim, src.dim(), "index_add");
  DIFFLAB_CHECK(index.numel() == src.shape()[d], "index_add: index ", index.shape(),
                " must have one entry per slice of src ", src.shape(), " along dim ", d);
  Shape os = src.shape();
  os[d] = size;
  return os;
}

void check_embedding(const Tensor& weight, const Tensor& index, DeviceRule rule) {
  check_operand("embedding", weight, "weight", weight, "weight", rule);
  check_operand("embedding", weight, "weight", index, "index", rule);
  DIFFLAB_CHECK(weight.dim() == 2, "embedding: weight must be [num_embeddings, dim], got ",
                weight.shape());
  check_index_dtype("embedding", index);
}

void check_one_hot(const Tensor& index, DeviceRule rule) {
  check_operand("one_hot", index, "index", index, "index", rule);
  check_index_dtype("one_hot", index);
}

}  // namespace difflab::tensor::checks
