// Reductions over any set of dims: sum, mean, var, amax, argmax, logsumexp, sum_to.
// Each output element is reduced by one thread in a fixed order (rows split into fixed
// kReduceBlock chunks whose partials are added serially), so results are bit-identical for any
// thread count. f32 accumulates in f64.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/checks/reduce.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/loops.h"
#include "tensor/op_label.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

enum class RedOp { sum, max };

using checks::reduce_mask;
using checks::reduced_shape;

// Reduces `n` contiguous elements in fixed chunks; partials combined serially.
template <typename T, RedOp OP>
double reduce_chunk(const T* p, int64_t n) {
  if constexpr (OP == RedOp::sum) {
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k) a[k] += double(p[i + k]);
    for (; i < n; ++i) a[0] += double(p[i]);
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  } else {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      double v = double(p[i]);
      if (v > m || std::isnan(v)) m = v;
      if (std::isnan(m)) break;
    }
    return m;
  }
}

template <RedOp OP>
double combine(double a, double b) {
  if constexpr (OP == RedOp::sum) return a + b;
  else return (std::isnan(a) || a >= b) ? a : b;
}

// Rows of length R (contiguous) -> one value per row.
template <typename T, RedOp OP>
void reduce_rows(const T* x, T* out, int64_t rows, int64_t R) {
  const int64_t chunks = std::max<int64_t>(1, (R + cpu::kReduceBlock - 1) / cpu::kReduceBlock);
  if (chunks == 1) {
#pragma omp parallel for schedule(static) if (rows * R >= cpu::kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) out[r] = T(reduce_chunk<T, OP>(x + r * R, R));
    return;
  }
  std::vector<double> part(size_t(rows * chunks));
#pragma omp parallel for schedule(static) if (rows * R >= cpu::kParallelGrain)
  for (int64_t rc = 0; rc < rows * chunks; ++rc) {
    int64_t r = rc / chunks, c = rc % chunks;
    int64_t b = c * cpu::kReduceBlock, e = std::min(R, b + cpu::kReduceBlock);
    part[rc] = reduce_chunk<T, OP>(x + r * R + b, e - b);
  }
  for (int64_t r = 0; r < rows; ++r) {
    double a = part[r * chunks];
    for (int64_t c = 1; c < chunks; ++c) a = combine<OP>(a, part[r * chunks + c]);
    out[r] = T(a);
  }
}

// x viewed as [A, B] contiguous, reduce over A -> B values, each column in order over A.
template <typename T, RedOp OP>
void reduce_cols(const T* x, T* out, int64_t A, int64_t B) {
  constexpr int64_t kCols = 256;
  const int64_t nblocks = (B + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (A * B >= cpu::kParallelGrain)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t b0 = blk * kCols, b1 = std::min(B, b0 + kCols);
    double acc[kCols];
    for (int64_t b = b0; b < b1; ++b)
      acc[b - b0] = OP == RedOp::sum ? 0.0 : -std::numeric_limits<double>::infinity();
    for (int64_t a = 0; a < A; ++a) {
      const T* row = x + a * B;
      for (int64_t b = b0; b < b1; ++b) acc[b - b0] = combine<OP>(acc[b - b0], double(row[b]));
    }
    for (int64_t b = b0; b < b1; ++b) out[b] = T(acc[b - b0]);
  }
}

template <RedOp OP>
Tensor reduce_impl(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                   const char* op) {
  OpLabel label_(op);
  DIFFLAB_CHECK(x.device().is_cpu(), op, ": tensor on ", x.device(),
                " but the CUDA backend is not built");
  std::vector<bool> mask = reduce_mask(x, dims, op);
  Shape oshape = reduced_shape(x, mask, keepdim);
  Tensor out = Tensor::empty(oshape, x.dtype(), x.device());
  const int64_t R = checks::reduced_count(x, mask);
  if (OP == RedOp::max) checks::check_reducible(op, x, R, out.numel());
  if (out.numel() == 0) return out;
  if (R == 0) {
    out.fill_(0.0);
    return out;
  }
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    // Reduced dims form a leading block of a contiguous x: column reduction, no copy.
    int64_t lead = 0;
    while (lead < x.dim() && mask[lead]) ++lead;
    bool leading_block = x.is_contiguous() && lead > 0;
    for (int64_t d = lead; d < x.dim(); ++d)
      if (mask[d]) leading_block = false;
    if (leading_block && R != x.numel()) {
      reduce_cols<T, OP>(x.data<T>(), out.data<T>(), R, x.numel() / R);
      return;
    }
    // Otherwise move the reduced dims last (copying only if needed) and reduce rows.
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (!mask[d]) perm.push_back(d);
    for (int64_t d = 0; d < x.dim(); ++d)
      if (mask[d]) perm.push_back(d);
    Tensor xc = x.permute(perm).contiguous();
    reduce_rows<T, OP>(xc.data<T>(), out.data<T>(), out.numel(), R);
  });
  return out;
}

template <typename T>
void argmax_rows(const T* p, int64_t* o, int64_t rows, int64_t R) {
#pragma omp parallel for schedule(static) if (rows * R >= cpu::kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = p + r * R;
    int64_t best = 0;
    for (int64_t i = 1; i < R; ++i)
      if (row[i] > row[best] || (std::isnan(row[i]) && !std::isnan(row[best]))) best = i;
    o[r] = best;
  }
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  DIFFLAB_CUDA_ROUTE(x, cuda::sum(x, dims, keepdim));
  return reduce_impl<RedOp::sum>(x, dims, keepdim, "sum");
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  DIFFLAB_CUDA_ROUTE(x, cuda::mean(x, dims, keepdim));
  Tensor s = sum(x, dims, keepdim);
  int64_t R = x.numel() / std::max<int64_t>(1, s.numel());
  if (s.numel() == 0 || R == 0) return s;
  return affine(s, 1.0 / double(R), 0.0);
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, int64_t correction) {
  DIFFLAB_CUDA_ROUTE(x, cuda::var(x, dims, keepdim, correction));
  Tensor m = mean(x, dims, true);
  int64_t R = x.numel() / std::max<int64_t>(1, m.numel());
  checks::check_var_dof(x, R, correction);
  Tensor d = binary(BinaryOp::sub, x, m);
  Tensor s = sum(binary(BinaryOp::mul, d, d), dims, keepdim);
  return affine(s, 1.0 / double(R - correction), 0.0);
}

Tensor amax(const Tensor& x, int64_t dim, bool keepdim) {
  DIFFLAB_CUDA_ROUTE(x, cuda::amax(x, dim, keepdim));
  return reduce_impl<RedOp::max>(x, {dim}, keepdim, "amax");
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  OpLabel label_("argmax");
  DIFFLAB_CUDA_ROUTE(x, cuda::argmax(x, dim, keepdim));
  DIFFLAB_CHECK(x.device().is_cpu(), "argmax: tensor on ", x.device());
  int64_t d = 0;
  const Shape oshape = checks::argmax_shape(x, dim, keepdim, d);
  const int64_t R = x.shape()[d];
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (i != d) perm.push_back(i);
  perm.push_back(d);
  Tensor xc = x.permute(perm).contiguous();
  Tensor out = Tensor::empty(oshape, DType::i64, x.device());
  int64_t* o = out.data<int64_t>();
  const int64_t rows = out.numel();
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), "argmax",
                         [&] { argmax_rows(xc.data<scalar_t>(), o, rows, R); });
  return out;
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  OpLabel label_("logsumexp");
  DIFFLAB_CUDA_ROUTE(x, cuda::logsumexp(x, dims, keepdim));
  Tensor m = reduce_impl<RedOp::max>(x, dims, true, "logsumexp");
  // Rows that are all -inf keep m = -inf; shift by 0 there so exp gives 0, log gives -inf.
  Tensor finite_m = where(binary(BinaryOp::eq, m, full_like(m, -INFINITY)),
                          full_like(m, 0.0), m);
  Tensor s = sum(unary(UnaryOp::exp, binary(BinaryOp::sub, x, finite_m)), dims, true);
  Tensor out = binary(BinaryOp::add, unary(UnaryOp::log, s), finite_m);
  if (keepdim) return out;
  return out.reshape(reduced_shape(x, reduce_mask(x, dims, "logsumexp"), false));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  DIFFLAB_CHECK(int64_t(shape.size()) <= x.dim(), "sum_to: cannot reduce ", x.shape(), " to ",
                shape);
  const int64_t lead = x.dim() - int64_t(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    int64_t t = shape[d - lead];
    DIFFLAB_CHECK(t == x.shape()[d] || t == 1, "sum_to: cannot reduce ", x.shape(), " to ",
                  shape);
    if (t == 1 && x.shape()[d] != 1) dims.push_back(d);
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace difflab::tensor
