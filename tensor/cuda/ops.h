// CUDA implementations of the forward kernels in tensor/ops.h, same names and arguments, for
// inputs on a CUDA device (the public ops route here through DIFFLAB_CUDA_ROUTE). Each checks
// its inputs like the CPU version and names the op, shapes, dtypes and devices on error. All
// work is queued on the device's one stream; results are deterministic (no float atomics).
// Implemented in tensor/cuda/<family>.cu; built only with the CUDA backend.
#pragma once
#include <utility>
#include <vector>

#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::tensor::cuda {

// copy.cu
void copy_into(const Tensor& dst, const Tensor& src);  // any mix of cpu/cuda dst and src
void fill(const Tensor& dst, double value);

// elementwise.cu
Tensor unary(UnaryOp op, const Tensor& x);
Tensor pow_scalar(const Tensor& x, double p);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor affine(const Tensor& x, double scale, double shift);
Tensor in_range_mask(const Tensor& x, double lo, double hi);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// random.cu: the CPU's counter scheme (Philox4x32-10 from cuRAND's device header, the same
// counters and key), so one seed gives the same numbers on either device.
Tensor rand(const Shape& shape, DType dtype, Generator& gen, const Device& device);
Tensor randn(const Shape& shape, DType dtype, Generator& gen, const Device& device);
Tensor randint(int64_t lo, int64_t hi, const Shape& shape, Generator& gen, const Device& device);
Tensor uniform(const Shape& shape, double lo, double hi, DType dtype, Generator& gen,
               const Device& device);

// reduce.cu
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, int64_t correction);
Tensor amax(const Tensor& x, int64_t dim, bool keepdim);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);

// matmul.cu (cuBLAS)
Tensor matmul(const Tensor& a, const Tensor& b);
// TF32 tensor-core math for f32 GEMMs: off by default (full f32 precision).
void set_allow_tf32(bool allow);
bool allow_tf32();

// Row-major strided-batched GEMM on cuBLAS, the building block of conv.cu: for i < count,
// C_i = alpha * op(A_i) op(B_i) + beta * C_i, where op(A) is m x k, op(B) is k x n, C is m x n,
// and X_i starts at element off_x + i * stride_x of x's data (its view offset included). ld*
// are the row strides as stored (A is stored k x m when trans_a). With beta == 0, C is not
// read. k >= 1; every operand must lie inside its storage (checked). `op` names the caller in
// errors.
struct GemmSpec {
  const char* op = "gemm";
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t count = 1, stride_a = 0, stride_b = 0, stride_c = 0;
  int64_t off_a = 0, off_b = 0, off_c = 0;
};
void gemm(const GemmSpec& s, double alpha, const Tensor& a, const Tensor& b, double beta,
          const Tensor& c);

// conv.cu, pool.cu
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& w, const Shape& input_shape,
                         const Conv2dParams& p);
Tensor conv2d_weight_grad(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                          const Conv2dParams& p);
Tensor upsample_nearest2d(const Tensor& x, int64_t scale);
Tensor upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape, int64_t kernel,
                           int64_t stride);

// norm.cu, softmax.cu
NormOutput group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                      double eps);
std::vector<Tensor> group_norm_backward(const Tensor& grad_out, const Tensor& x, int64_t groups,
                                        const Tensor& mean, const Tensor& rstd,
                                        const Tensor& weight);
NormOutput layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                      const Tensor& bias, double eps);
std::vector<Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& x,
                                        int64_t normalized_ndim, const Tensor& mean,
                                        const Tensor& rstd, const Tensor& weight);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// index.cu
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src);
Tensor index_add(const Tensor& src, int64_t dim, const Tensor& index, int64_t size);
Tensor embedding(const Tensor& weight, const Tensor& index);
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype);
Tensor cdist2(const Tensor& a, const Tensor& b);
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending);
Tensor cumsum(const Tensor& x, int64_t dim);
Tensor cumsum_reverse(const Tensor& x, int64_t dim);

}  // namespace difflab::tensor::cuda
