#include "tensor/checks/matmul.h"

#include <algorithm>

namespace difflab::tensor::checks {

MatmulShapes check_matmul(const Tensor& a_in, const Tensor& b_in, PairDeviceRule rule) {
  DIFFLAB_CHECK(a_in.defined() && b_in.defined(), "matmul: undefined input");
  rule(a_in, b_in);
  check_same_dtype("matmul", a_in, b_in);
  DIFFLAB_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: inputs must have at least 1 dim, got ",
                a_in.shape(), " and ", b_in.shape());
  MatmulShapes m;
  m.a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  m.b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  const Tensor &a = m.a, &b = m.b;
  m.M = a.shape()[a.dim() - 2], m.K = a.shape()[a.dim() - 1];
  const int64_t K2 = b.shape()[b.dim() - 2];
  m.N = b.shape()[b.dim() - 1];
  DIFFLAB_CHECK(m.K == K2, "matmul: inner dims differ, ", a_in.shape(), " @ ", b_in.shape(), " (",
                m.K, " vs ", K2, ")");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  m.batch = broadcast_shapes(ba, bb, "matmul (batch dims)");
  Shape ea = m.batch, eb = m.batch;
  m.out = m.batch;
  ea.insert(ea.end(), {m.M, m.K});
  eb.insert(eb.end(), {m.K, m.N});
  m.out.insert(m.out.end(), {m.M, m.N});
  m.a = m.a.expand(ea);
  m.b = m.b.expand(eb);
  return m;
}

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

Cdist2Shapes check_cdist2(const Tensor& a, const Tensor& b, DeviceRule rule) {
  check_operand("cdist2", a, "a", a, "a", rule);
  check_operand("cdist2", a, "a", b, "b", rule);
  check_same_dtype("cdist2", "a", a, "b", b);
  DIFFLAB_CHECK(a.dim() >= 2 && b.dim() >= 2, "cdist2: a ", a.shape(), " and b ", b.shape(),
                " must be [..., N, D] and [..., M, D]");
  DIFFLAB_CHECK(a.shape().back() == b.shape().back(), "cdist2: a ", a.shape(), " and b ", b.shape(),
                " differ in the feature dim (", a.shape().back(), " vs ", b.shape().back(), ")");
  Cdist2Shapes c;
  Shape ba(a.shape().begin(), a.shape().end() - 2);
  Shape bb(b.shape().begin(), b.shape().end() - 2);
  c.batch = broadcast_shapes(ba, bb, "cdist2 (batch dims)");
  c.N = a.shape()[a.dim() - 2], c.M = b.shape()[b.dim() - 2];
  c.D = a.shape().back();
  c.out = c.batch;
  c.out.insert(c.out.end(), {c.N, c.M});
  return c;
}

Tensor rows_contiguous(const Tensor& t) {
  const int64_t r = t.dim();
  const int64_t rows = t.shape()[r - 2], cols = t.shape()[r - 1];
  const bool ok =
      (t.strides()[r - 1] == 1 || cols == 1) && (t.strides()[r - 2] == cols || rows == 1);
  return ok ? t : t.contiguous();
}

}  // namespace difflab::tensor::checks
