// cuBLAS GEMMs: the row-major strided-batched gemm() that conv.cu builds on, matmul with
// torch.matmul semantics (1-D, 2-D, batched with broadcasting) on it, and the TF32 switch.
#include <cublas_v2.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <mutex>
#include <vector>

#include "tensor/checks/matmul.h"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

std::atomic<bool> g_allow_tf32{false};

// One cuBLAS handle per device, created on first use and never destroyed (tearing one down
// during static destruction can outlive the CUDA context). The mutex covers creation and each
// call's configure-then-queue sequence, since a handle's stream and math mode are shared state.
std::mutex g_cublas_mutex;
std::vector<cublasHandle_t> g_handles;

// The device's handle; the caller holds g_cublas_mutex and has made the device current.
cublasHandle_t handle_for(int device) {
  if (g_handles.size() <= size_t(device)) g_handles.resize(size_t(device) + 1, nullptr);
  cublasHandle_t& h = g_handles[size_t(device)];
  if (!h) {
    cublasStatus_t st = cublasCreate(&h);
    if (st != CUBLAS_STATUS_SUCCESS) {
      h = nullptr;
      DIFFLAB_FAIL("cublasCreate on cuda:", device, " failed: ", cublasGetStatusString(st));
    }
  }
  return h;
}

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const float* alpha, const float* a, int lda, long long sa,
                         const float* b, int ldb, long long sb, const float* beta, float* c,
                         int ldc, long long sc, int count) {
  if (count == 1) return cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc,
                                   sc, count);
}

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const double* alpha, const double* a, int lda, long long sa,
                         const double* b, int ldb, long long sb, const double* beta, double* c,
                         int ldc, long long sc, int count) {
  if (count == 1) return cublasDgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc,
                                   sc, count);
}

// Last element (relative to t's data) that operand x of the product touches, plus one.
int64_t extent(int64_t off, int64_t count, int64_t stride, int64_t rows, int64_t cols, int64_t ld) {
  return off + (count - 1) * stride + (rows - 1) * ld + cols;
}

// The GEMM; `in_a`/`in_b` (may be null) are the caller's inputs, named in cuBLAS errors.
void gemm_impl(const GemmSpec& s, double alpha, const Tensor& a, const Tensor& b, double beta,
               const Tensor& c, const Tensor* in_a, const Tensor* in_b) {
  const char* op = s.op;
  DIFFLAB_CHECK(a.defined() && b.defined() && c.defined(), op, ": gemm operand is undefined");
  DIFFLAB_CHECK(a.device().is_cuda() && a.device() == b.device() && a.device() == c.device(), op,
                ": gemm operands on different devices, ", a.desc(), ", ", b.desc(), " and ",
                c.desc());
  DIFFLAB_CHECK(is_floating(a.dtype()) && a.dtype() == b.dtype() && a.dtype() == c.dtype(), op,
                ": gemm needs f32 or f64 operands of one dtype, got ", a.desc(), ", ", b.desc(),
                " and ", c.desc());
  if (s.m == 0 || s.n == 0 || s.count == 0) return;
  // Stored shapes (row-major) of A and B.
  const int64_t ar = s.trans_a ? s.k : s.m, ac = s.trans_a ? s.m : s.k;
  const int64_t br = s.trans_b ? s.n : s.k, bc = s.trans_b ? s.k : s.n;
  DIFFLAB_CHECK(s.m > 0 && s.n > 0 && s.k > 0 && s.count > 0 && s.lda >= std::max<int64_t>(1, ac) &&
                    s.ldb >= std::max<int64_t>(1, bc) && s.ldc >= std::max<int64_t>(1, s.n) &&
                    s.stride_a >= 0 && s.stride_b >= 0 && s.stride_c >= 0 && s.off_a >= 0 &&
                    s.off_b >= 0 && s.off_c >= 0,
                op, ": invalid gemm m ", s.m, " n ", s.n, " k ", s.k, " lda ", s.lda, " ldb ",
                s.ldb, " ldc ", s.ldc, " count ", s.count);
  for (int64_t v : {s.m, s.n, s.k, s.lda, s.ldb, s.ldc, s.count})
    DIFFLAB_CHECK(v <= INT_MAX, op, ": gemm m ", s.m, " n ", s.n, " k ", s.k, " lda ", s.lda,
                  " ldb ", s.ldb, " ldc ", s.ldc, " count ", s.count,
                  " exceeds cuBLAS's 32-bit sizes");
  auto room = [](const Tensor& t) {
    return int64_t(t.storage()->nbytes / t.element_size()) - t.offset();
  };
  DIFFLAB_CHECK(extent(s.off_a, s.count, s.stride_a, ar, ac, s.lda) <= room(a) &&
                    extent(s.off_b, s.count, s.stride_b, br, bc, s.ldb) <= room(b) &&
                    extent(s.off_c, s.count, s.stride_c, s.m, s.n, s.ldc) <= room(c),
                op, ": gemm operands overrun their storage (m ", s.m, " n ", s.n, " k ", s.k,
                " count ", s.count, ")");
  cudaStream_t stream = prepare(c);
  const int device = c.device().index;
  const bool tf32 = g_allow_tf32.load(std::memory_order_relaxed) && a.dtype() == DType::f32;
  // Column-major view of the row-major product: C^T = op(B)^T op(A)^T, so B goes first.
  const cublasOperation_t opa = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const char* call = "cublasSetStream";
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  {
    std::lock_guard<std::mutex> lock(g_cublas_mutex);
    cublasHandle_t h = handle_for(device);
    st = cublasSetStream(h, stream);
    if (st == CUBLAS_STATUS_SUCCESS) {
      call = "cublasSetMathMode";
      st = cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
    }
    if (st == CUBLAS_STATUS_SUCCESS) {
      DIFFLAB_DISPATCH_FLOAT(a.dtype(), op, [&] {
        using T = scalar_t;
        call = s.count == 1
                   ? (sizeof(T) == 4 ? "cublasSgemm" : "cublasDgemm")
                   : (sizeof(T) == 4 ? "cublasSgemmStridedBatched" : "cublasDgemmStridedBatched");
        const T al = T(alpha), be = T(beta);
        st = gemm_call(h, opb, opa, int(s.n), int(s.m), int(s.k), &al, b.data<T>() + s.off_b,
                       int(s.ldb), s.stride_b, a.data<T>() + s.off_a, int(s.lda), s.stride_a, &be,
                       c.data<T>() + s.off_c, int(s.ldc), s.stride_c, int(s.count));
      });
    }
  }
  if (st != CUBLAS_STATUS_SUCCESS) {
    if (in_a && in_b)
      DIFFLAB_FAIL(op, ": ", call, " failed for ", in_a->desc(), " @ ", in_b->desc(), " (m ", s.m,
                   " n ", s.n, " k ", s.k, ", batch ", s.count, "): ", cublasGetStatusString(st));
    DIFFLAB_FAIL(op, ": ", call, " failed for ", a.dtype(), " ", s.trans_a ? "A^T" : "A", " [", s.m,
                 " x ", s.k, "] @ ", s.trans_b ? "B^T" : "B", " [", s.k, " x ", s.n, "] (lda ",
                 s.lda, ", ldb ", s.ldb, ", ldc ", s.ldc, ", batch ", s.count, ") on ", c.device(),
                 ": ", cublasGetStatusString(st));
  }
}

using checks::blas_layout;

// The device rule of checks::check_matmul: both inputs on one device.
void on_one_device(const Tensor& a, const Tensor& b) {
  DIFFLAB_CHECK(a.device() == b.device(), "matmul: inputs on different devices, ", a.desc(),
                " and ", b.desc());
}

// A batch dim of the product after merging: its size and the element strides of a, b, out.
struct BatchDim {
  int64_t size, sa, sb, so;
};

// The batch dims of size > 1, merged where all three operands step through them evenly.
std::vector<BatchDim> merged_batch(const Shape& batch, const Tensor& a, const Tensor& b,
                                   int64_t mn) {
  std::vector<BatchDim> dims;
  int64_t so = mn;
  std::vector<BatchDim> rev;
  for (int64_t d = int64_t(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] != 1)
      rev.push_back({batch[d], a.strides()[size_t(d)], b.strides()[size_t(d)], so});
    so *= batch[d];
  }
  for (auto it = rev.rbegin(); it != rev.rend(); ++it) {
    if (!dims.empty()) {
      BatchDim& p = dims.back();
      if (p.sa == it->sa * it->size && p.sb == it->sb * it->size && p.so == it->so * it->size) {
        p.size *= it->size;
        p.sa = it->sa, p.sb = it->sb, p.so = it->so;
        continue;
      }
    }
    dims.push_back(*it);
  }
  return dims;
}

}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow, std::memory_order_relaxed); }
bool allow_tf32() { return g_allow_tf32.load(std::memory_order_relaxed); }

void gemm(const GemmSpec& s, double alpha, const Tensor& a, const Tensor& b, double beta,
          const Tensor& c) {
  gemm_impl(s, alpha, a, b, beta, c, nullptr, nullptr);
}

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  OpLabel label_("matmul");
  checks::MatmulShapes m = checks::check_matmul(a_in, b_in, on_one_device);
  Tensor a = m.a, b = m.b;
  const int64_t M = m.M, K = m.K, N = m.N;
  const Shape& batch = m.batch;
  Tensor out = Tensor::empty(m.out, a.dtype(), a.device());
  if (out.numel() > 0) {
    if (K == 0) {
      out.fill_(0.0);
    } else {
      DIFFLAB_DISPATCH_FLOAT(a.dtype(), "matmul", [] {});  // the CPU's dtype error
      GemmSpec s;
      s.op = "matmul";
      if (!blas_layout(a, s.trans_a, s.lda)) a = a.contiguous(), blas_layout(a, s.trans_a, s.lda);
      if (!blas_layout(b, s.trans_b, s.ldb)) b = b.contiguous(), blas_layout(b, s.trans_b, s.ldb);
      s.m = M, s.n = N, s.k = K, s.ldc = N;
      std::vector<BatchDim> dims = merged_batch(batch, a, b, M * N);
      if (dims.size() == 1 && dims[0].sb == 0 && !s.trans_a && dims[0].sa == M * s.lda &&
          dims[0].so == M * N) {
        // b shared by every batch entry and a's rows evenly spaced across them: one GEMM
        // with the batch folded into the rows.
        s.m = dims[0].size * M;
        dims.clear();
      }
      // The largest dim goes to one strided-batched call; the host loops over the others.
      size_t big = 0;
      for (size_t i = 1; i < dims.size(); ++i)
        if (dims[i].size > dims[big].size) big = i;
      if (!dims.empty()) {
        s.count = dims[big].size;
        s.stride_a = dims[big].sa, s.stride_b = dims[big].sb, s.stride_c = dims[big].so;
      }
      int64_t calls = 1;
      for (size_t i = 0; i < dims.size(); ++i)
        if (i != big) calls *= dims[i].size;
      // off_x is relative to each operand's data (its view offset included).
      for (int64_t call = 0; call < calls; ++call) {
        int64_t rem = call, oa = 0, ob = 0, oc = 0;
        for (size_t i = dims.size(); i-- > 0;) {
          if (i == big) continue;
          const int64_t idx = rem % dims[i].size;
          rem /= dims[i].size;
          oa += idx * dims[i].sa, ob += idx * dims[i].sb, oc += idx * dims[i].so;
        }
        s.off_a = oa, s.off_b = ob, s.off_c = oc;
        gemm_impl(s, 1.0, a, b, 0.0, out, &a_in, &b_in);
      }
    }
  }
  if (a_in.dim() == 1) out = out.squeeze(out.dim() - 2);
  if (b_in.dim() == 1) out = out.squeeze(out.dim() - 1);
  return out;
}

}  // namespace difflab::tensor::cuda
