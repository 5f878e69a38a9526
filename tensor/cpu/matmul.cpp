// matmul with torch.matmul semantics (1-D, 2-D, batched with broadcasting) on the tiled GEMM,
// whose bits do not depend on the thread count (tensor/cpu/gemm.h).
#include <vector>

#include "tensor/checks/matmul.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/gemm.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

using checks::blas_layout;

// The device rule of checks::check_matmul: both inputs on the CPU.
void on_cpu(const Tensor& a, const Tensor& b) {
  DIFFLAB_CHECK(a.device().is_cpu() && b.device().is_cpu(), "matmul: inputs on ", a.device(),
                " and ", b.device(),
                DIFFLAB_HAVE_CUDA ? " (inputs must share a device)" : " (CUDA backend not built)");
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  OpLabel label_("matmul");
  DIFFLAB_CUDA_ROUTE(a_in, cuda::matmul(a_in, b_in));
  checks::MatmulShapes m = checks::check_matmul(a_in, b_in, on_cpu);
  Tensor a = m.a, b = m.b;
  const int64_t M = m.M, K = m.K, N = m.N;
  const Shape& batch = m.batch;
  Tensor out = Tensor::empty(m.out, a.dtype(), a.device());
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
