// Differentiable functions on Var. Each one's forward and backward sit side by side in
// autograd/functions/<family>.cpp; backward is written with these same functions, so with
// create_graph it is itself differentiable.
#pragma once
#include <optional>
#include <utility>
#include <vector>

#include "autograd/var.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::ag {

using tensor::Conv2dParams;

// ---- elementwise (functions/elementwise.cpp) ----
Var neg(const Var& x);
Var abs(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);
Var sqrt(const Var& x);
Var rsqrt(const Var& x);
Var sin(const Var& x);
Var cos(const Var& x);
Var tanh(const Var& x);
Var sigmoid(const Var& x);
Var relu(const Var& x);
Var silu(const Var& x);
Var gelu(const Var& x);
Var square(const Var& x);
Var reciprocal(const Var& x);
Var pow(const Var& x, double p);
Var clamp(const Var& x, double lo, double hi);
Var affine(const Var& x, double scale, double shift);  // scale * x + shift
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var pow(const Var& a, const Var& b);  // a > 0 where b's gradient is needed
Var maximum(const Var& a, const Var& b);
Var minimum(const Var& a, const Var& b);
// cond is a u8 tensor (broadcast); not differentiable in cond.
Var where(const Tensor& cond, const Var& a, const Var& b);
// Derivative helpers, themselves differentiable (used by silu/gelu backward).
Var silu_grad(const Var& x);
Var gelu_grad(const Var& x);

Var operator-(const Var& x);
Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);
Var operator/(const Var& a, const Var& b);
Var operator+(const Var& a, double s);
Var operator+(double s, const Var& a);
Var operator-(const Var& a, double s);
Var operator-(double s, const Var& a);
Var operator*(const Var& a, double s);
Var operator*(double s, const Var& a);
Var operator/(const Var& a, double s);
Var operator/(double s, const Var& a);

// ---- shape and views (functions/shape.cpp) ----
Var reshape(const Var& x, const Shape& shape);
Var view(const Var& x, const Shape& shape);
Var flatten(const Var& x, int64_t start_dim = 0, int64_t end_dim = -1);
Var permute(const Var& x, const std::vector<int64_t>& dims);
Var transpose(const Var& x, int64_t d0, int64_t d1);
Var slice(const Var& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Var select(const Var& x, int64_t dim, int64_t index);
Var expand(const Var& x, const Shape& shape);
Var squeeze(const Var& x, int64_t dim);
Var unsqueeze(const Var& x, int64_t dim);
Var contiguous(const Var& x);
Var sum_to(const Var& x, const Shape& shape);  // adjoint of broadcasting
// Places x into a zero tensor of `shape` at slice (dim, start, end, step): slice's adjoint.
Var slice_backward(const Var& g, const Shape& shape, int64_t dim, int64_t start, int64_t end,
                   int64_t step);

// ---- reductions (functions/reduce.cpp) ----
Var sum(const Var& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Var mean(const Var& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Var var(const Var& x, const std::vector<int64_t>& dims = {}, bool keepdim = false,
        int64_t correction = 1);
Var amax(const Var& x, int64_t dim, bool keepdim = false);  // gradient to the first maximum
Var logsumexp(const Var& x, const std::vector<int64_t>& dims, bool keepdim = false);

// ---- linear algebra (functions/linalg.cpp) ----
Var matmul(const Var& a, const Var& b);
Var linear(const Var& x, const Var& w, const Var& b = Var());  // x wᵀ + b, w [out, in]

// ---- convolution, pooling, resampling (functions/conv.cpp) ----
Var conv2d(const Var& x, const Var& w, const Var& bias = Var(), const Conv2dParams& p = {});
Var conv2d_input_grad(const Var& grad_out, const Var& w, const Shape& input_shape,
                      const Conv2dParams& p);
Var conv2d_weight_grad(const Var& grad_out, const Var& x, const Shape& weight_shape,
                       const Conv2dParams& p);
Var upsample_nearest2d(const Var& x, int64_t scale = 2);
Var avg_pool2d(const Var& x, int64_t kernel, int64_t stride = -1);  // stride -1 = kernel
// Adjoints of upsampling (sum over each scale×scale block) and of average pooling; each one's
// backward is the forward op, so they are differentiable to any order.
Var upsample_nearest2d_backward(const Var& grad_out, int64_t scale);
Var avg_pool2d_backward(const Var& grad_out, const Shape& input_shape, int64_t kernel,
                        int64_t stride);

// ---- normalisation and softmax (functions/norm.cpp) ----
Var group_norm(const Var& x, int64_t groups, const Var& weight = Var(), const Var& bias = Var(),
               double eps = 1e-5);
// silu(group_norm(x, ...)) in one node: one pass forward, one fused backward, and x saved in
// place of the norm's output. On CUDA, group_norm then silu (no fused kernel yet).
Var group_norm_silu(const Var& x, int64_t groups, const Var& weight = Var(),
                    const Var& bias = Var(), double eps = 1e-5);
Var layer_norm(const Var& x, int64_t normalized_ndim, const Var& weight = Var(),
               const Var& bias = Var(), double eps = 1e-5);
Var softmax(const Var& x, int64_t dim);
Var log_softmax(const Var& x, int64_t dim);

// ---- joining, indexing, sorting (functions/index.cpp) ----
Var cat(const std::vector<Var>& xs, int64_t dim);
Var stack(const std::vector<Var>& xs, int64_t dim);
Var index_select(const Var& x, int64_t dim, const Tensor& index);
Var gather(const Var& x, int64_t dim, const Tensor& index);
Var scatter_add(const Var& base, int64_t dim, const Tensor& index, const Var& src);
Var embedding(const Var& weight, const Tensor& index);
Var cdist2(const Var& a, const Var& b);
// Sorted values (differentiable, gradient scattered back through the indices) and indices.
std::pair<Var, Tensor> sort(const Var& x, int64_t dim, bool descending = false);
Var cumsum(const Var& x, int64_t dim);
// Inverted dropout: zero with probability p and scale by 1/(1-p) when `training`.
Var dropout(const Var& x, double p, bool training = true, tensor::Generator* gen = nullptr);
// Adjoints used by the backward formulas above, themselves differentiable: index_add places
// rows of src at index along dim in a zero tensor with `size` slices there (its gradient is
// index_select); cumsum_reverse is cumsum's adjoint (its gradient is cumsum).
Var index_add(const Var& src, int64_t dim, const Tensor& index, int64_t size);
Var cumsum_reverse(const Var& x, int64_t dim);

}  // namespace difflab::ag
