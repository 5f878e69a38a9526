// Joining and indexing kernels: cat, stack, index_select, gather, scatter_add, index_add,
// embedding, one_hot. Every output element is written by one thread; the accumulating kernels
// (scatter_add, index_add) give each thread whole lines along the indexed dim and walk the index
// in order, so sums are bit-identical for any thread count.
#include <algorithm>
#include <array>
#include <cstring>

#include "tensor/checks/index.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/loops.h"
#include "tensor/factory.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

using checks::outer_inner;

// Every value of the (contiguous) index must lie in [0, size); names the first one that does not.
void check_index_range(const char* op, const Tensor& index, int64_t size, int64_t dim,
                       const Shape& shape) {
  const int64_t* p = index.data<int64_t>();
  const int64_t n = index.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] < 0 || p[i] >= size) checks::fail_index_range(op, p[i], size, dim, shape);
  }
}

// Calls f(offsets) once per line of `shape` along `dim`: offsets[k] is the element offset of the
// line's first element in operand k (strides in elements). Lines run in parallel; each line is
// handled by one thread.
template <int K, typename F>
void for_each_line(const Shape& shape, int64_t dim, const std::array<Shape, K>& strides, F f) {
  const int64_t nd = int64_t(shape.size());
  const int64_t len = shape[dim];
  const int64_t total = shape_numel(shape);
  if (total == 0) return;
  const int64_t lines = total / len;
#pragma omp parallel for schedule(static) if (total >= cpu::kParallelGrain && lines > 1)
  for (int64_t l = 0; l < lines; ++l) {
    std::array<int64_t, K> off{};
    int64_t rem = l;
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (d == dim) continue;
      const int64_t c = rem % shape[d];
      rem /= shape[d];
      for (int k = 0; k < K; ++k) off[k] += c * strides[k][d];
    }
    f(off);
  }
}

// out[o, k, :] = x[o, idx[k], :] on byte rows of `row_bytes`.
void index_select_rows(const char* x, char* out, const int64_t* idx, int64_t outer, int64_t n,
                       int64_t K, int64_t row_bytes) {
  const int64_t rows = outer * K;
#pragma omp parallel for schedule(static) if (rows * row_bytes >= 4 * cpu::kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / K, k = r % K;
    std::memcpy(out + r * row_bytes, x + (o * n + idx[k]) * row_bytes, size_t(row_bytes));
  }
}

Tensor index_select_impl(const char* op, const Tensor& x, int64_t dim, const Tensor& index) {
  OpLabel label_(op);
  const int64_t d = checks::check_index_select(op, x, dim, index, cpu::cpu_rule);
  Tensor idx = index.contiguous();
  check_index_range(op, idx, x.shape()[d], d, x.shape());
  Shape os = x.shape();
  os[d] = idx.numel();
  Tensor out = Tensor::empty(os, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  Tensor xc = x.contiguous();
  int64_t outer, inner;
  outer_inner(xc.shape(), d, outer, inner);
  index_select_rows(static_cast<const char*>(xc.raw_data()), static_cast<char*>(out.raw_data()),
                    idx.data<int64_t>(), outer, xc.shape()[d], idx.numel(),
                    inner * int64_t(xc.element_size()));
  return out;
}

template <typename T>
void gather_typed(const Tensor& out, const Tensor& x, int64_t d, const Tensor& idx) {
  T* o = out.data<T>();
  const T* xp = x.data<T>();
  const int64_t* ip = idx.data<int64_t>();
  const Shape is = contiguous_strides(idx.shape());
  const Shape& xs = x.strides();
  const int64_t len = idx.shape()[d], sd = is[d], xd = xs[d];
  for_each_line<2>(idx.shape(), d, {is, xs}, [&](const std::array<int64_t, 2>& off) {
    for (int64_t k = 0; k < len; ++k) {
      const int64_t p = off[0] + k * sd;
      o[p] = xp[off[1] + ip[p] * xd];
    }
  });
}

template <typename T>
void scatter_add_typed(const Tensor& out, int64_t d, const Tensor& idx, const Tensor& src) {
  T* o = out.data<T>();
  const T* sp = src.data<T>();
  const int64_t* ip = idx.data<int64_t>();
  const Shape is = contiguous_strides(idx.shape());
  const Shape& os = out.strides();
  const Shape& ss = src.strides();
  const int64_t len = idx.shape()[d], id = is[d], od = os[d], sd = ss[d];
  // A line of the index maps into one line of out (the other coordinates are shared), so lines
  // never collide, and within a line the index is walked in order.
  for_each_line<3>(idx.shape(), d, {is, os, ss}, [&](const std::array<int64_t, 3>& off) {
    for (int64_t k = 0; k < len; ++k) o[off[1] + ip[off[0] + k * id] * od] += sp[off[2] + k * sd];
  });
}

// out[o, idx[k], i] += src[o, k, i]; parallel over (o, block of i), each thread walks k in order.
template <typename T>
void index_add_typed(T* out, const T* src, const int64_t* idx, int64_t outer, int64_t K,
                     int64_t size, int64_t inner) {
  constexpr int64_t kBlock = 256;
  const int64_t nb = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (outer * K * inner >= cpu::kParallelGrain)
  for (int64_t t = 0; t < outer * nb; ++t) {
    const int64_t o = t / nb, i0 = (t % nb) * kBlock, i1 = std::min(inner, i0 + kBlock);
    for (int64_t k = 0; k < K; ++k) {
      T* dst = out + (o * size + idx[k]) * inner;
      const T* s = src + (o * K + k) * inner;
      for (int64_t i = i0; i < i1; ++i) dst[i] += s[i];
    }
  }
}

}  // namespace

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  OpLabel label_("cat");
#if DIFFLAB_HAVE_CUDA
  if (!xs.empty() && xs[0].defined() && xs[0].device().is_cuda()) return cuda::cat(xs, dim);
#endif
  int64_t d = 0;
  const Shape os = checks::check_cat(
      xs, dim,
      [](const Tensor& t, size_t i, const Tensor&) {
        DIFFLAB_CHECK(
            t.device().is_cpu(), "cat: tensor ", i, " on ", t.device(),
            DIFFLAB_HAVE_CUDA ? " while tensor 0 is on cpu" : " but the CUDA backend is not built");
      },
      d);
  const Tensor& ref = xs[0];
  Tensor out = Tensor::empty(os, ref.dtype(), ref.device());
  int64_t off = 0;
  for (const Tensor& x : xs) {
    const int64_t n = x.shape()[d];
    if (n > 0) out.slice(d, off, off + n).copy_(x);
    off += n;
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  OpLabel label_("stack");
  DIFFLAB_CHECK(!xs.empty(), "stack: expected at least one tensor");
  for (size_t i = 0; i < xs.size(); ++i) {
    DIFFLAB_CHECK(xs[i].defined(), "stack: tensor ", i, " is undefined");
    DIFFLAB_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " has shape ", xs[i].shape(),
                  " but tensor 0 has shape ", xs[0].shape(), "; all shapes must be equal");
  }
  const int64_t d = normalize_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  us.reserve(xs.size());
  for (const Tensor& x : xs) us.push_back(x.unsqueeze(d));
  return cat(us, d);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  DIFFLAB_CUDA_ROUTE(x, cuda::index_select(x, dim, index));
  return index_select_impl("index_select", x, dim, index);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  OpLabel label_("gather");
  DIFFLAB_CUDA_ROUTE(x, cuda::gather(x, dim, index));
  const int64_t d = checks::check_gather(x, dim, index, cpu::cpu_rule);
  Tensor idx = index.contiguous();
  check_index_range("gather", idx, x.shape()[d], d, x.shape());
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  DIFFLAB_DISPATCH_ALL(x.dtype(), "gather", [&] { gather_typed<scalar_t>(out, x, d, idx); });
  return out;
}

Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  OpLabel label_("scatter_add");
  DIFFLAB_CUDA_ROUTE(base, cuda::scatter_add(base, dim, index, src));
  const int64_t d = checks::check_scatter_add(base, dim, index, src, cpu::cpu_rule);
  Tensor idx = index.contiguous();
  check_index_range("scatter_add", idx, base.shape()[d], d, base.shape());
  Tensor out = base.clone();
  DIFFLAB_DISPATCH_FLOAT(base.dtype(), "scatter_add",
                         [&] { scatter_add_typed<scalar_t>(out, d, idx, src); });
  return out;
}

Tensor index_add(const Tensor& src, int64_t dim, const Tensor& index, int64_t size) {
  OpLabel label_("index_add");
  DIFFLAB_CUDA_ROUTE(src, cuda::index_add(src, dim, index, size));
  int64_t d = 0;
  const Shape os = checks::check_index_add(src, dim, index, size, cpu::cpu_rule, d);
  Tensor idx = index.contiguous();
  check_index_range("index_add", idx, size, d, os);
  Tensor out = zeros(os, src.dtype(), src.device());
  if (src.numel() == 0) return out;
  Tensor sc = src.contiguous();
  int64_t outer, inner;
  outer_inner(sc.shape(), d, outer, inner);
  DIFFLAB_DISPATCH_FLOAT(src.dtype(), "index_add", [&] {
    index_add_typed<scalar_t>(out.data<scalar_t>(), sc.data<scalar_t>(), idx.data<int64_t>(), outer,
                              sc.shape()[d], size, inner);
  });
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& index) {
  OpLabel label_("embedding");
  DIFFLAB_CUDA_ROUTE(weight, cuda::embedding(weight, index));
  checks::check_embedding(weight, index, cpu::cpu_rule);
  Tensor rows = index_select_impl("embedding", weight, 0, index.reshape({-1}));
  Shape os = index.shape();
  os.push_back(weight.shape()[1]);
  return rows.view(os);
}

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  OpLabel label_("one_hot");
  DIFFLAB_CUDA_ROUTE(index, cuda::one_hot(index, num_classes, dtype));
  checks::check_one_hot(index, cpu::cpu_rule);
  Tensor idx = index.contiguous();
  const int64_t* ip = idx.data<int64_t>();
  const int64_t n = idx.numel();
  if (num_classes < 0) {  // infer from the data, as torch does with -1
    num_classes = 0;
    for (int64_t i = 0; i < n; ++i) num_classes = std::max(num_classes, ip[i] + 1);
  }
  Shape os = idx.shape();
  os.push_back(num_classes);
  check_index_range("one_hot", idx, num_classes, int64_t(os.size()) - 1, os);
  Tensor out = zeros(os, dtype);
  DIFFLAB_DISPATCH_ALL(dtype, "one_hot", [&] {
    scalar_t* o = out.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) o[i * num_classes + ip[i]] = scalar_t(1);
  });
  return out;
}

}  // namespace difflab::tensor
