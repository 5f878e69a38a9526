// Joining and indexing on the device: cat, index_select, gather, scatter_add, index_add,
// embedding, one_hot, with the checks of tensor/checks/index.h. Index values are validated by a
// small kernel before use (the first bad one is reported, as on the CPU); the accumulating ops
// give every output element to one thread that adds its contributions in index order.
#include <array>

#include "tensor/checks/index.h"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/factory.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

#define DIFFLAB_GRID_LOOP(i, n)                                             \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

using checks::outer_inner;

// Lowest position i with idx[i] outside [0, size), or ~0 when there is none.
__global__ void first_bad_index(int64_t n, const int64_t* idx, int64_t size,
                                unsigned long long* first) {
  DIFFLAB_GRID_LOOP(i, n) {
    const int64_t v = idx[i];
    if (v < 0 || v >= size) atomicMin(first, static_cast<unsigned long long>(i));
  }
}

// Every value of the (contiguous, on-device) index must lie in [0, size); names the first one
// that does not, with the CPU's message. Waits for the device (one 8-byte copy back).
void check_index_range(const char* op, const Tensor& index, int64_t size, int64_t dim,
                       const Shape& shape) {
  const int64_t n = index.numel();
  if (n == 0) return;
  cudaStream_t s = prepare(index);
  const int dev = index.device().index;
  Tensor flag = Tensor::empty({1}, DType::i64, index.device());
  DIFFLAB_CUDA_CHECK(cudaMemsetAsync(flag.raw_data(), 0xFF, sizeof(unsigned long long), s), op,
                     ": index check");
  first_bad_index<<<blocks_for(n), kThreads, 0, s>>>(
      n, index.data<int64_t>(), size, static_cast<unsigned long long*>(flag.raw_data()));
  DIFFLAB_CUDA_LAUNCHED(op);
  unsigned long long pos = 0;
  copy_to_host(&pos, flag.raw_data(), sizeof(pos), dev);
  if (pos == ~0ULL) return;
  int64_t v = 0;
  copy_to_host(&v, index.data<int64_t>() + pos, sizeof(v), dev);
  checks::fail_index_range(op, v, size, dim, shape);
}

// The lines of a shape along `dim` (every coordinate but dim's), for K operands with their own
// strides: line l's first element sits at offsets(l)[k] in operand k. Size-1 dims are dropped
// and neighbours that are contiguous with each other in every operand merged.
template <int K>
struct Lines {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[K][kMaxDims];

  __device__ void offsets(int64_t l, int64_t (&off)[K]) const {
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t c = l % sizes[d];
      l /= sizes[d];
      for (int k = 0; k < K; ++k) off[k] += c * strides[k][d];
    }
  }
};

template <int K>
Lines<K> make_lines(const char* op, const Shape& shape, int64_t dim,
                    const std::array<Shape, K>& st) {
  Lines<K> L;
  for (int64_t j = 0; j < int64_t(shape.size()); ++j) {
    if (j == dim || shape[j] == 1) continue;
    if (L.ndim > 0) {
      bool merge = true;
      for (int k = 0; k < K; ++k)
        if (L.strides[k][L.ndim - 1] != st[k][j] * shape[j]) merge = false;
      if (merge) {
        L.sizes[L.ndim - 1] *= shape[j];
        for (int k = 0; k < K; ++k) L.strides[k][L.ndim - 1] = st[k][j];
        continue;
      }
    }
    DIFFLAB_CHECK(L.ndim < kMaxDims, op, ": shape ", shape, " has more than ", kMaxDims,
                  " dims besides dim ", dim, " that cannot be merged (the CUDA kernel's limit)");
    L.sizes[L.ndim] = shape[j];
    for (int k = 0; k < K; ++k) L.strides[k][L.ndim] = st[k][j];
    ++L.ndim;
  }
  return L;
}

// out[o, k, i] = x[o, idx[k], i] over contiguous [outer, n, inner] x and [outer, K, inner] out.
template <typename T>
__global__ void index_select_kernel(int64_t total, T* out, const T* x, const int64_t* idx,
                                    int64_t n, int64_t K, int64_t inner) {
  DIFFLAB_GRID_LOOP(t, total) {
    const int64_t i = t % inner, r = t / inner;
    const int64_t k = r % K, o = r / K;
    out[t] = x[(o * n + idx[k]) * inner + i];
  }
}

// Operands: 0 = index (contiguous; out shares its layout), 1 = x. Thread t handles position
// t / lines along dim of line t % lines, so neighbouring threads read neighbouring lines.
template <typename T>
__global__ void gather_kernel(int64_t total, int64_t lines, Lines<2> L, T* out, const T* x,
                              const int64_t* idx, int64_t id, int64_t xd) {
  DIFFLAB_GRID_LOOP(t, total) {
    int64_t off[2];
    L.offsets(t % lines, off);
    const int64_t p = off[0] + (t / lines) * id;
    out[p] = x[off[1] + idx[p] * xd];
  }
}

// Operands: 0 = index (contiguous), 1 = out, 2 = src. One thread per line of the index: its
// entries all land in one line of out that no other thread touches, and are added in order.
template <typename T>
__global__ void scatter_add_kernel(int64_t lines, int64_t len, Lines<3> L, T* out, const T* src,
                                   const int64_t* idx, int64_t id, int64_t od, int64_t sd) {
  DIFFLAB_GRID_LOOP(l, lines) {
    int64_t off[3];
    L.offsets(l, off);
    for (int64_t k = 0; k < len; ++k)
      out[off[1] + idx[off[0] + k * id] * od] += src[off[2] + k * sd];
  }
}

// out[o, idx[k], i] += src[o, k, i]: one thread per (o, i) walks k in order, so each output
// element is summed by one thread in a fixed order.
template <typename T>
__global__ void index_add_kernel(int64_t total, T* out, const T* src, const int64_t* idx, int64_t K,
                                 int64_t size, int64_t inner) {
  DIFFLAB_GRID_LOOP(t, total) {
    const int64_t o = t / inner, i = t % inner;
    for (int64_t k = 0; k < K; ++k)
      out[(o * size + idx[k]) * inner + i] += src[(o * K + k) * inner + i];
  }
}

// max(0, max(idx) + 1) for one_hot's inferred class count (integer atomics: exact).
__global__ void max_plus_one(int64_t n, const int64_t* idx, long long* result) {
  DIFFLAB_GRID_LOOP(i, n) atomicMax(result, static_cast<long long>(idx[i]) + 1);
}

template <typename T>
__global__ void one_hot_kernel(int64_t n, T* out, const int64_t* idx, int64_t classes) {
  DIFFLAB_GRID_LOOP(i, n) out[i * classes + idx[i]] = T(1);
}

Tensor index_select_impl(const char* op, const Tensor& x, int64_t dim, const Tensor& index) {
  OpLabel label_(op);
  const int64_t d = checks::check_index_select(op, x, dim, index, checks::same_device);
  Tensor idx = index.contiguous();
  check_index_range(op, idx, x.shape()[d], d, x.shape());
  Shape os = x.shape();
  os[d] = idx.numel();
  Tensor out = Tensor::empty(os, x.dtype(), x.device());
  const int64_t total = out.numel();
  if (total == 0) return out;
  Tensor xc = x.contiguous();
  int64_t outer, inner;
  outer_inner(xc.shape(), d, outer, inner);
  cudaStream_t s = prepare(x);
  DIFFLAB_DISPATCH_ALL(x.dtype(), op, [&] {
    index_select_kernel<scalar_t><<<blocks_for(total), kThreads, 0, s>>>(
        total, out.data<scalar_t>(), xc.data<scalar_t>(), idx.data<int64_t>(), xc.shape()[d],
        idx.numel(), inner);
  });
  DIFFLAB_CUDA_LAUNCHED(op);
  return out;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  OpLabel label_("cat");
  int64_t d = 0;
  const Shape os = checks::check_cat(
      xs, dim,
      [](const Tensor& t, size_t i, const Tensor& first) {
        DIFFLAB_CHECK(t.device() == first.device(), "cat: tensor ", i, " ", t.desc(),
                      " is on a different device from tensor 0 ", first.desc());
      },
      d);
  const Tensor& ref = xs[0];
  Tensor out = Tensor::empty(os, ref.dtype(), ref.device());
  // One strided copy kernel per input into its slice of out, all on the device's stream.
  int64_t off = 0;
  for (const Tensor& x : xs) {
    const int64_t n = x.shape()[d];
    if (n > 0) cuda::copy_into(out.slice(d, off, off + n), x);
    off += n;
  }
  return out;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  return index_select_impl("index_select", x, dim, index);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  OpLabel label_("gather");
  const int64_t d = checks::check_gather(x, dim, index, checks::same_device);
  Tensor idx = index.contiguous();
  check_index_range("gather", idx, x.shape()[d], d, x.shape());
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  const int64_t total = idx.numel();
  if (total == 0) return out;
  const Shape is = contiguous_strides(idx.shape());
  const int64_t lines = total / idx.shape()[d];
  Lines<2> L = make_lines<2>("gather", idx.shape(), d, {is, x.strides()});
  cudaStream_t s = prepare(x);
  DIFFLAB_DISPATCH_ALL(x.dtype(), "gather", [&] {
    gather_kernel<scalar_t><<<blocks_for(total), kThreads, 0, s>>>(
        total, lines, L, out.data<scalar_t>(), x.data<scalar_t>(), idx.data<int64_t>(), is[d],
        x.strides()[d]);
  });
  DIFFLAB_CUDA_LAUNCHED("gather");
  return out;
}

Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  OpLabel label_("scatter_add");
  const int64_t d = checks::check_scatter_add(base, dim, index, src, checks::same_device);
  Tensor idx = index.contiguous();
  check_index_range("scatter_add", idx, base.shape()[d], d, base.shape());
  Tensor out = base.clone();
  DIFFLAB_DISPATCH_FLOAT(base.dtype(), "scatter_add", [&] {
    const int64_t total = idx.numel();
    if (total == 0) return;
    const int64_t len = idx.shape()[d], lines = total / len;
    const Shape is = contiguous_strides(idx.shape());
    Lines<3> L = make_lines<3>("scatter_add", idx.shape(), d, {is, out.strides(), src.strides()});
    cudaStream_t s = prepare(base);
    scatter_add_kernel<scalar_t><<<blocks_for(lines), kThreads, 0, s>>>(
        lines, len, L, out.data<scalar_t>(), src.data<scalar_t>(), idx.data<int64_t>(), is[d],
        out.strides()[d], src.strides()[d]);
    DIFFLAB_CUDA_LAUNCHED("scatter_add");
  });
  return out;
}

Tensor index_add(const Tensor& src, int64_t dim, const Tensor& index, int64_t size) {
  OpLabel label_("index_add");
  int64_t d = 0;
  const Shape os = checks::check_index_add(src, dim, index, size, checks::same_device, d);
  Tensor idx = index.contiguous();
  check_index_range("index_add", idx, size, d, os);
  Tensor out = zeros(os, src.dtype(), src.device());
  if (src.numel() == 0) return out;
  Tensor sc = src.contiguous();
  int64_t outer, inner;
  outer_inner(sc.shape(), d, outer, inner);
  const int64_t total = outer * inner;
  cudaStream_t s = prepare(src);
  DIFFLAB_DISPATCH_FLOAT(src.dtype(), "index_add", [&] {
    index_add_kernel<scalar_t>
        <<<blocks_for(total), kThreads, 0, s>>>(total, out.data<scalar_t>(), sc.data<scalar_t>(),
                                                idx.data<int64_t>(), sc.shape()[d], size, inner);
  });
  DIFFLAB_CUDA_LAUNCHED("index_add");
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& index) {
  OpLabel label_("embedding");
  checks::check_embedding(weight, index, checks::same_device);
  Tensor rows = index_select_impl("embedding", weight, 0, index.reshape({-1}));
  Shape os = index.shape();
  os.push_back(weight.shape()[1]);
  return rows.view(os);
}

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  OpLabel label_("one_hot");
  checks::check_one_hot(index, checks::same_device);
  Tensor idx = index.contiguous();
  const int64_t n = idx.numel();
  cudaStream_t s = prepare(idx);
  if (num_classes < 0) {  // infer from the data, as torch does with -1
    num_classes = 0;
    if (n > 0) {
      Tensor m = Tensor::empty({1}, DType::i64, idx.device());
      DIFFLAB_CUDA_CHECK(cudaMemsetAsync(m.raw_data(), 0, sizeof(long long), s),
                         "one_hot: class count");
      max_plus_one<<<blocks_for(n), kThreads, 0, s>>>(n, idx.data<int64_t>(),
                                                      static_cast<long long*>(m.raw_data()));
      DIFFLAB_CUDA_LAUNCHED("one_hot");
      long long classes = 0;
      copy_to_host(&classes, m.raw_data(), sizeof(classes), idx.device().index);
      num_classes = int64_t(classes);
    }
  }
  Shape os = idx.shape();
  os.push_back(num_classes);
  check_index_range("one_hot", idx, num_classes, int64_t(os.size()) - 1, os);
  Tensor out = zeros(os, dtype, idx.device());
  if (n == 0) return out;
  DIFFLAB_DISPATCH_ALL(dtype, "one_hot", [&] {
    one_hot_kernel<scalar_t><<<blocks_for(n), kThreads, 0, s>>>(n, out.data<scalar_t>(),
                                                                idx.data<int64_t>(), num_classes);
  });
  DIFFLAB_CUDA_LAUNCHED("one_hot");
  return out;
}

}  // namespace difflab::tensor::cuda
