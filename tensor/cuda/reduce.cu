// Reductions over any set of dims on the GPU: sum, mean, var, amax, argmax, logsumexp.
// The input is viewed as a contiguous [O, R, I] with the reduced dims as the middle block
// (other layouts are permuted and copied so that they come last, I = 1). Each output is reduced
// by a group of threads with a fixed tree (I small) or by one thread walking its column in order
// (I large); long reductions are split into a shape-determined number of chunks whose partials
// a second pass combines in order. Accumulation is in double, as on the CPU, so results are
// deterministic and close to the CPU's.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/checks/reduce.h"
#include "tensor/cuda/block_reduce.cuh"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

enum class Red { sum, maxidx };
// Map applied to each element before it is reduced; `shift` is per output row.
enum class Pre { none, exp_shift, sq_dev };
// Applied to each final value: none, times `scale`, or log(.) + shift (logsumexp).
enum class Post { none, scale, lse };

template <Red RED>
struct OpOf {
  using type = SumOp;
};
template <>
struct OpOf<Red::maxidx> {
  using type = MaxIdxOp;
};

// Inner sizes from which the column kernel (one thread per output column) is used.
constexpr int64_t kColumnInner = 16;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// x is a contiguous [O, R, I]; output row o*I + i reduces x[o, :, i]. R is split into nchunk
// chunks of clen (the last may be shorter); partials are laid out [O, nchunk, I].
struct Plan {
  int64_t O, R, I, nchunk, clen;
  int gs;  // > 0: row kernel with gs threads per row; 0: column kernel
};

template <typename T>
struct Sink {
  T* out;             // final values (null: argmax needs only indices)
  int64_t* out_idx;   // final indices (argmax) or null
  double* part;       // partial values when nchunk > 1
  int64_t* part_idx;  // partial indices (maxidx) when nchunk > 1
  const T* shift;     // per output row: the mean (var) or the maximum (logsumexp)
  double scale;
};

Plan make_plan(int64_t O, int64_t R, int64_t I, bool allow_split) {
  Plan p{O, R, I, 1, R, 0};
  const int64_t rows = O * I;
  if (I < kColumnInner) {
    // Groups of up to kThreads threads per row; split when there are few, long rows.
    if (allow_split && rows < 1024 && R > 8192)
      p.nchunk = std::min(ceil_div(R, 4096), ceil_div(2048, rows));
  } else if (allow_split && rows < 65536 && R > 256) {
    p.nchunk = std::min({ceil_div(65536, rows), ceil_div(R, 64), int64_t(1024)});
  }
  if (p.nchunk > 1) {
    p.clen = ceil_div(R, p.nchunk);
    p.nchunk = ceil_div(R, p.clen);
  }
  if (I < kColumnInner) p.gs = group_size_for(p.clen);
  return p;
}

template <typename T, Pre PRE, typename V>
__device__ double mapped(V v, T sh) {
  if constexpr (PRE == Pre::none) {
    return double(v);
  } else if constexpr (PRE == Pre::exp_shift) {
    return double(T(exp(T(v) - sh)));
  } else {
    const T d = T(v) - sh;
    return double(d * d);
  }
}

// The shift of output row `row`; logsumexp shifts an all -inf row by 0 (exp gives 0, log -inf).
template <typename T, Pre PRE>
__device__ T shift_of(const Sink<T>& s, int64_t row) {
  if constexpr (PRE == Pre::none) {
    return T(0);
  } else {
    T sh = s.shift[row];
    if (PRE == Pre::exp_shift && isinf(sh) && sh < T(0)) sh = T(0);
    return sh;
  }
}

template <typename T, Red RED, Pre PRE, typename V, typename Acc>
__device__ void step(Acc& acc, const V* x, const int64_t* xidx, int64_t off, int64_t r, T sh) {
  const double v = mapped<T, PRE>(x[off], sh);
  if constexpr (RED == Red::sum)
    acc += v;
  else
    acc = MaxIdxOp::combine(acc, MaxIdx{v, xidx ? xidx[off] : r});
}

template <typename T, Red RED, Post POST, typename Acc>
__device__ void write_final(const Sink<T>& s, int64_t row, const Acc& acc) {
  if constexpr (RED == Red::maxidx) {
    if (s.out) s.out[row] = T(acc.v);
    if (s.out_idx) s.out_idx[row] = acc.i;
  } else {
    const T v = T(acc);
    if constexpr (POST == Post::none) {
      s.out[row] = v;
    } else if constexpr (POST == Post::scale) {
      s.out[row] = T(s.scale) * v + T(0);  // the CPU's affine(v, scale, 0)
    } else {
      T m = s.shift[row];
      if (isinf(m) && m < T(0)) m = T(0);
      s.out[row] = T(log(v)) + m;
    }
  }
}

template <typename T, Red RED, typename Acc>
__device__ void write_partial(const Sink<T>& s, int64_t at, const Acc& acc) {
  if constexpr (RED == Red::maxidx) {
    s.part[at] = acc.v;
    s.part_idx[at] = acc.i;
  } else {
    s.part[at] = acc;
  }
}

// One group of gs threads per (row, chunk) unit, kThreads / gs units per block.
template <typename V, typename T, Red RED, Pre PRE, Post POST>
__global__ void rows_kernel(Plan p, const V* x, const int64_t* xidx, Sink<T> s) {
  using Op = typename OpOf<RED>::type;
  using Acc = typename Op::Acc;
  __shared__ Acc smem[kThreads / 32];
  const int gs = p.gs, upb = int(blockDim.x) / gs;
  const int lane = int(threadIdx.x) % gs, grp = int(threadIdx.x) / gs;
  const int64_t units = p.O * p.I * p.nchunk;
  for (int64_t base = int64_t(blockIdx.x) * upb; base < units; base += int64_t(gridDim.x) * upb) {
    const int64_t u = base + grp;
    const int64_t row = u / p.nchunk, c = u % p.nchunk;
    const int64_t o = row / p.I, i = row % p.I;
    Acc acc = Op::identity();
    if (u < units) {
      const T sh = shift_of<T, PRE>(s, row);
      const int64_t r1 = p.R < (c + 1) * p.clen ? p.R : (c + 1) * p.clen;
      for (int64_t r = c * p.clen + lane; r < r1; r += gs)
        step<T, RED, PRE>(acc, x, xidx, (o * p.R + r) * p.I + i, r, sh);
    }
    acc = group_reduce<Op>(acc, smem, gs);
    if (u < units && lane == 0) {
      if (p.nchunk == 1)
        write_final<T, RED, POST>(s, row, acc);
      else
        write_partial<T, RED>(s, (o * p.nchunk + c) * p.I + i, acc);
    }
  }
}

// One thread per (o, chunk, i), walking its column over the chunk in order.
template <typename V, typename T, Red RED, Pre PRE, Post POST>
__global__ void cols_kernel(Plan p, const V* x, const int64_t* xidx, Sink<T> s) {
  using Acc = typename OpOf<RED>::type::Acc;
  const int64_t n = p.O * p.nchunk * p.I;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = t % p.I, oc = t / p.I, c = oc % p.nchunk, o = oc / p.nchunk;
    const int64_t row = o * p.I + i;
    const T sh = shift_of<T, PRE>(s, row);
    Acc acc = OpOf<RED>::type::identity();
    const int64_t r1 = p.R < (c + 1) * p.clen ? p.R : (c + 1) * p.clen;
    for (int64_t r = c * p.clen; r < r1; ++r)
      step<T, RED, PRE>(acc, x, xidx, (o * p.R + r) * p.I + i, r, sh);
    if (p.nchunk == 1)
      write_final<T, RED, POST>(s, row, acc);
    else
      write_partial<T, RED>(s, t, acc);
  }
}

template <typename V, typename T, Red RED, Pre PRE, Post POST>
void launch(const char* op, const Plan& p, const V* x, const int64_t* xidx, const Sink<T>& s,
            cudaStream_t st) {
  if (p.gs > 0) {
    const int upb = kThreads / p.gs;
    rows_kernel<V, T, RED, PRE, POST>
        <<<blocks_for(p.O * p.I * p.nchunk, upb), kThreads, 0, st>>>(p, x, xidx, s);
  } else {
    cols_kernel<V, T, RED, PRE, POST>
        <<<blocks_for(p.O * p.nchunk * p.I), kThreads, 0, st>>>(p, x, xidx, s);
  }
  DIFFLAB_CUDA_LAUNCHED(op);
}

// A contiguous tensor viewed as [O, R, I] for the reduced `mask`.
struct View {
  Tensor x;
  int64_t O = 1, R = 1, I = 1;
};

View make_view(const Tensor& x, const std::vector<bool>& mask) {
  View v;
  if (x.is_contiguous()) {
    // Size-1 dims aside, the reduced dims must be consecutive: before, block, after.
    int state = 0;
    bool block = true;
    for (int64_t d = 0; d < x.dim(); ++d) {
      const int64_t n = x.shape()[d];
      if (n == 1) continue;
      if (mask[d]) {
        if (state == 2) block = false;
        state = 1;
        v.R *= n;
      } else if (state == 0) {
        v.O *= n;
      } else {
        state = 2;
        v.I *= n;
      }
    }
    if (block) {
      v.x = x;
      return v;
    }
  }
  std::vector<int64_t> perm;
  v.O = v.R = v.I = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!mask[d]) {
      perm.push_back(d);
      v.O *= x.shape()[d];
    }
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) {
      perm.push_back(d);
      v.R *= x.shape()[d];
    }
  v.x = x.permute(perm).contiguous();
  return v;
}

// Reduces the view into out (values and/or indices): one pass, or chunk partials then a pass
// over them in chunk order.
template <Red RED, Pre PRE, Post POST>
void reduce_into(const char* op, const View& v, const Tensor& out, const Tensor& out_idx,
                 const Tensor& shift, double scale) {
  DIFFLAB_DISPATCH_FLOAT(v.x.dtype(), op, [&] {
    using T = scalar_t;
    cudaStream_t st = prepare(v.x);
    Sink<T> s{out.defined() ? out.data<T>() : nullptr,
              out_idx.defined() ? out_idx.data<int64_t>() : nullptr,
              nullptr,
              nullptr,
              shift.defined() ? shift.data<T>() : nullptr,
              scale};
    const Plan p = make_plan(v.O, v.R, v.I, true);
    if (p.nchunk == 1) {
      launch<T, T, RED, PRE, POST>(op, p, v.x.data<T>(), nullptr, s, st);
      return;
    }
    const int64_t np = p.O * p.nchunk * p.I;
    Tensor part = Tensor::empty({np}, DType::f64, v.x.device());
    Tensor part_idx = RED == Red::maxidx ? Tensor::empty({np}, DType::i64, v.x.device()) : Tensor();
    Sink<T> s1 = s;
    s1.part = part.data<double>();
    s1.part_idx = part_idx.defined() ? part_idx.data<int64_t>() : nullptr;
    launch<T, T, RED, PRE, POST>(op, p, v.x.data<T>(), nullptr, s1, st);
    const Plan p2 = make_plan(p.O, p.nchunk, p.I, false);
    launch<double, T, RED, Pre::none, POST>(op, p2, s1.part, s1.part_idx, s, st);
  });
}

// ---- checks (the shapes and the shared ones are in tensor/checks/reduce.h) ----

using checks::reduce_mask;
using checks::reduced_count;
using checks::reduced_shape;

// The CPU's dispatch error, raised before any copy is made.
void check_float(const char* op, const Tensor& x) {
  DIFFLAB_CHECK(is_floating(x.dtype()), op, ": expected a floating dtype (f32 or f64), got ",
                x.dtype());
}

// sum and mean: R = 0 gives zeros (the CPU's mean of nothing is its sum, 0).
Tensor sum_or_mean(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                   bool is_mean) {
  checks::check_defined(op, x, "input");
  const std::vector<bool> mask = reduce_mask(x, dims, op);
  Tensor out = Tensor::empty(reduced_shape(x, mask, keepdim), x.dtype(), x.device());
  const int64_t R = reduced_count(x, mask);
  if (out.numel() == 0) return out;
  if (R == 0) {
    out.fill_(0.0);
    return out;
  }
  check_float(op, x);
  const View v = make_view(x, mask);
  if (is_mean)
    reduce_into<Red::sum, Pre::none, Post::scale>(op, v, out, Tensor(), Tensor(), 1.0 / double(R));
  else
    reduce_into<Red::sum, Pre::none, Post::none>(op, v, out, Tensor(), Tensor(), 1.0);
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  OpLabel label_("sum");
  return sum_or_mean("sum", x, dims, keepdim, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  OpLabel label_("mean");
  return sum_or_mean("mean", x, dims, keepdim, true);
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, int64_t correction) {
  OpLabel label_("var");
  checks::check_defined("var", x, "input");
  const std::vector<bool> mask = reduce_mask(x, dims, "var");
  const Shape oshape = reduced_shape(x, mask, keepdim);
  // The CPU's count: elements per output, taken as numel / max(1, outputs).
  const int64_t R = x.numel() / std::max<int64_t>(1, shape_numel(oshape));
  checks::check_var_dof(x, R, correction);
  Tensor out = Tensor::empty(oshape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  if (R == 0) {
    out.fill_(0.0);
    return out;
  }
  // Two passes like the CPU: the mean (in the input dtype), then Σ (x − mean)² / (R − corr).
  check_float("var", x);
  const View v = make_view(x, mask);
  Tensor m = Tensor::empty({out.numel()}, x.dtype(), x.device());
  reduce_into<Red::sum, Pre::none, Post::scale>("var", v, m, Tensor(), Tensor(), 1.0 / double(R));
  reduce_into<Red::sum, Pre::sq_dev, Post::scale>("var", v, out, Tensor(), m,
                                                  1.0 / double(R - correction));
  return out;
}

Tensor amax(const Tensor& x, int64_t dim, bool keepdim) {
  OpLabel label_("amax");
  checks::check_defined("amax", x, "input");
  const std::vector<bool> mask = reduce_mask(x, {dim}, "amax");
  Tensor out = Tensor::empty(reduced_shape(x, mask, keepdim), x.dtype(), x.device());
  const int64_t R = reduced_count(x, mask);
  checks::check_reducible("amax", x, R, out.numel());
  if (out.numel() == 0) return out;
  check_float("amax", x);
  reduce_into<Red::maxidx, Pre::none, Post::none>("amax", make_view(x, mask), out, Tensor(),
                                                  Tensor(), 1.0);
  return out;
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  OpLabel label_("argmax");
  checks::check_defined("argmax", x, "input");
  int64_t d = 0;
  Tensor out = Tensor::empty(checks::argmax_shape(x, dim, keepdim, d), DType::i64, x.device());
  check_float("argmax", x);
  if (out.numel() == 0) return out;
  std::vector<bool> mask(x.dim(), false);
  mask[d] = true;
  reduce_into<Red::maxidx, Pre::none, Post::none>("argmax", make_view(x, mask), Tensor(), out,
                                                  Tensor(), 1.0);
  return out;
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  OpLabel label_("logsumexp");
  checks::check_defined("logsumexp", x, "input");
  const std::vector<bool> mask = reduce_mask(x, dims, "logsumexp");
  Tensor out = Tensor::empty(reduced_shape(x, mask, keepdim), x.dtype(), x.device());
  const int64_t R = reduced_count(x, mask);
  checks::check_reducible("logsumexp", x, R, out.numel());
  check_float("logsumexp", x);
  if (out.numel() == 0) return out;
  const View v = make_view(x, mask);
  // m = max, then log(Σ exp(x − m')) + m' with m' = m, or 0 where m = −inf (as the CPU).
  Tensor m = Tensor::empty({out.numel()}, x.dtype(), x.device());
  reduce_into<Red::maxidx, Pre::none, Post::none>("logsumexp", v, m, Tensor(), Tensor(), 1.0);
  reduce_into<Red::sum, Pre::exp_shift, Post::lse>("logsumexp", v, out, Tensor(), m, 1.0);
  return out;
}

}  // namespace difflab::tensor::cuda
