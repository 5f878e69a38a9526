// matmul with torch.matmul semantics (1-D, 2-D, batched with broadcasting) on the tiled GEMM,
// whose bits do not depend on the thread count (tensor/cpu/gemm.h).
#include <vector>

#include "tensor/cpu/check.h"
#include "tensor/cpu/gemm.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

// BLAS layout of the last two dims of t: returns false if neither dim has unit stride.
bool blas_layout(const Tensor& t, bool& trans, int64_t& ld) {
  const int64_t r = t.dim();
  const int64_t rows = t.shape()[r - 2], cols = t.shape()[r - 1];
  const int64_t s0 = t.strides()[r - 2], s1 = t.strides()[r - 1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(1, cols)) {
    trans = false;
    ld = std::max<int64_t>(1, s0);
    return true;
  }
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(1, rows)) {
    trans = true;
    ld = std::max<int64_t>(1, s1);
    return true;
  }
  return false;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  OpLabel label_("matmul");
  DIFFLAB_CUDA_ROUTE(a_in, cuda::matmul(a_in, b_in));
  DIFFLAB_CHECK(a_in.defined() && b_in.defined(), "matmul: undefined input");
  DIFFLAB_CHECK(a_in.device().is_cpu() && b_in.device().is_cpu(), "matmul: inputs on ",
                a_in.device(), " and ", b_in.device(),
                DIFFLAB_HAVE_CUDA ? " (inputs must share a device)" : " (CUDA backend not built)");
  DIFFLAB_CHECK(a_in.dtype() == b_in.dtype(), "matmul: dtype mismatch, ", a_in.dtype(),
                a_in.shape(), " vs ", b_in.dtype(), b_in.shape());
  DIFFLAB_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: inputs must have at least 1 dim, got ",
                a_in.shape(), " and ", b_in.shape());
  Tensor a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  Tensor b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1];
  const int64_t K2 = b.shape()[b.dim() - 2], N = b.shape()[b.dim() - 1];
  DIFFLAB_CHECK(K == K2, "matmul: inner dims differ, ", a_in.shape(), " @ ", b_in.shape(), " (", K,
                " vs ", K2, ")");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul (batch dims)");
  Shape ea = batch, eb = batch, os = batch;
  ea.insert(ea.end(), {M, K});
  eb.insert(eb.end(), {K, N});
  os.insert(os.end(), {M, N});
  a = a.expand(ea);
  b = b.expand(eb);
  Tensor out = Tensor::empty(os, a.dtype(), a.device());
  const int64_t nb = shape_numel(batch);
  if (out.numel() > 0) {
    if (K == 0) {
      out.fill_(0.0);
    } else {
      bool ta, tb;
      int64_t lda, ldb;
      if (!blas_layout(a, ta, lda)) a = a.contiguous(), blas_layout(a, ta, lda);
      if (!blas_layout(b, tb, ldb)) b = b.contiguous(), blas_layout(b, tb, ldb);
      DIFFLAB_DISPATCH_FLOAT(a.dtype(), "matmul", [&] {
        using T = scalar_t;
        const T* pa = static_cast<const T*>(a.storage()->data);
        const T* pb = static_cast<const T*>(b.storage()->data);
        T* po = out.data<T>();
        const int64_t nd = int64_t(batch.size());
        // One pointer triple per batch entry; the GEMM spreads (entry, tile) pairs over threads.
        std::vector<const T*> as(static_cast<size_t>(nb)), bs(static_cast<size_t>(nb));
        std::vector<T*> cs(static_cast<size_t>(nb));
        for (int64_t i = 0; i < nb; ++i) {
          int64_t oa = a.offset(), ob = b.offset(), rem = i;
          for (int64_t d = nd - 1; d >= 0; --d) {
            int64_t idx = rem % batch[d];
            rem /= batch[d];
            oa += idx * a.strides()[d];
            ob += idx * b.strides()[d];
          }
          as[size_t(i)] = pa + oa;
          bs[size_t(i)] = pb + ob;
          cs[size_t(i)] = po + i * M * N;
        }
        const cpu::GemmShape s{
            .trans_a = ta, .trans_b = tb, .m = M, .n = N, .k = K, .lda = lda, .ldb = ldb, .ldc = N};
        cpu::gemm_batched<T>(s, T(1), T(0), nb, 1, as, bs, cs);
      });
    }
  }
  if (a_in.dim() == 1) out = out.squeeze(out.dim() - 2);
  if (b_in.dim() == 1) out = out.squeeze(out.dim() - 1);
  return out;
}

}  // namespace difflab::tensor
