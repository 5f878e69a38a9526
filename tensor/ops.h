// Forward kernels of the tensor library (no gradients here). Every function checks its inputs
// and throws difflab::Error naming the op and the shapes/dtypes/devices. CPU implementations
// live in tensor/cpu/*.cpp, whose entry points first route CUDA tensors to tensor/cuda/ (the
// DIFFLAB_CUDA_ROUTE of tensor/cpu/check.h) behind the same declarations.
#pragma once
#include <optional>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::tensor {

// ---- copy / fill (cpu/copy.cpp) ----
void copy_into(const Tensor& dst, const Tensor& src);  // broadcast src to dst, converting dtype
void fill(const Tensor& dst, double value);

// ---- elementwise (cpu/elementwise.cpp) ----
enum class UnaryOp {
  neg, abs, exp, log, sqrt, rsqrt, sin, cos, tanh, sigmoid, relu, silu, gelu, square, sign,
  reciprocal,
  // Derivative helpers used by backward formulas (kept as kernels for speed):
  silu_grad,    // d silu / dx
  gelu_grad,    // d gelu / dx (exact, erf form)
  gelu_grad2,   // d² gelu / dx²
  step,         // 1 where x > 0 else 0
};
const char* unary_name(UnaryOp op);
Tensor unary(UnaryOp op, const Tensor& x);
Tensor pow_scalar(const Tensor& x, double p);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor affine(const Tensor& x, double scale, double shift);  // scale * x + shift
// 1 where lo <= x <= hi else 0, same dtype as x (clamp's gradient mask).
Tensor in_range_mask(const Tensor& x, double lo, double hi);

enum class BinaryOp { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge };
const char* binary_name(BinaryOp op);
// NumPy broadcasting; both inputs must share dtype and device. Comparisons return u8.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// Elementwise select: cond (u8, broadcast) ? a : b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- reductions (cpu/reduce.cpp); dims empty = all dims. Fixed blocking: results do not
// depend on the thread count. ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Variance with `correction` (1 = unbiased).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false,
           int64_t correction = 1);
Tensor amax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // i64
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Sums x down to `shape` (the inverse of broadcasting `shape` to x.shape()).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra (cpu/matmul.cpp) ----
// 1-D/2-D/N-D with batch broadcasting, as torch.matmul. OpenBLAS sgemm/dgemm.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- convolution, pooling, resampling (cpu/conv.cpp, cpu/pool.cpp) ----
struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};
// x [N, Cin, H, W], w [Cout, Cin/groups, kh, kw], bias [Cout] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
// Gradient of conv2d with respect to x (a transposed convolution) and to w.
Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& w, const Shape& input_shape,
                         const Conv2dParams& p);
Tensor conv2d_weight_grad(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                          const Conv2dParams& p);
// Nearest-neighbour upsampling by an integer factor and its adjoint (sum over each block).
Tensor upsample_nearest2d(const Tensor& x, int64_t scale);
Tensor upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale);
// Average pooling (no padding) and its adjoint.
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape, int64_t kernel,
                           int64_t stride);

// ---- normalisation and softmax (cpu/norm.cpp, cpu/softmax.cpp) ----
struct NormOutput {
  Tensor y;     // normalised (and affine-transformed) output
  Tensor mean;  // [N, groups] or [rows]
  Tensor rstd;  // 1/sqrt(var + eps), same shape as mean
};
// x [N, C, *], weight/bias [C] or undefined.
NormOutput group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                      double eps);
// Fused first-order backward; returns {dx, dweight, dbias} (dweight/dbias undefined when the
// weight is undefined). The CPU kernel checks `mean` but recomputes it from x in double: saved in
// f32 it has lost the bits that matter when |mean| dwarfs the spread.
std::vector<Tensor> group_norm_backward(const Tensor& grad_out, const Tensor& x, int64_t groups,
                                        const Tensor& mean, const Tensor& rstd,
                                        const Tensor& weight);
// silu(group_norm(x)) in one pass over x, with group_norm's mean and rstd. CPU only (no CUDA
// kernel yet; ag::group_norm_silu composes group_norm and silu on CUDA).
NormOutput group_norm_silu(const Tensor& x, int64_t groups, const Tensor& weight,
                           const Tensor& bias, double eps);
// Its fused first-order backward, the group norm's output recomputed from x: {dx, dweight,
// dbias}, each parameter's gradient undefined when the parameter is. CPU only.
std::vector<Tensor> group_norm_silu_backward(const Tensor& grad_out, const Tensor& x,
                                             int64_t groups, const Tensor& mean,
                                             const Tensor& rstd, const Tensor& weight,
                                             const Tensor& bias);
// Normalises over the last `normalized_ndim` dims; weight/bias of that trailing shape.
NormOutput layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                      const Tensor& bias, double eps);
// As group_norm_backward: the CPU kernel recomputes the means from x in double.
std::vector<Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& x,
                                        int64_t normalized_ndim, const Tensor& mean,
                                        const Tensor& rstd, const Tensor& weight);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- joining and indexing (cpu/index.cpp) ----
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index i64 1-D
// out[i][j] = x[i][index[i][j]] along dim (torch.gather); index i64, same ndim as x.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Returns a copy of base with src added at index along dim (torch.scatter_add); deterministic.
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src);
// Adds rows of src into a zero [num_rows, ...] tensor at index (index_select's adjoint).
Tensor index_add(const Tensor& src, int64_t dim, const Tensor& index, int64_t size);
Tensor embedding(const Tensor& weight, const Tensor& index);  // weight [V, D], index i64 any shape
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype = DType::f32);
// Pairwise squared Euclidean distances: a [..., N, D], b [..., M, D] -> [..., N, M].
Tensor cdist2(const Tensor& a, const Tensor& b);
// Stable sort along dim; returns {values, indices (i64)}.
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending = false);
Tensor cumsum(const Tensor& x, int64_t dim);
// Reverse cumulative sum (cumsum's adjoint): out[i] = sum_{j >= i} x[j].
Tensor cumsum_reverse(const Tensor& x, int64_t dim);

}  // namespace difflab::tensor
