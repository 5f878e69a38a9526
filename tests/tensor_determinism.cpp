// Same results at 1 and 2 threads, bit for bit, for difflab's own kernels (reductions, RNG,
// elementwise). OpenBLAS sgemm is not bit-stable across thread counts (DESIGN.md): matmul is
// checked bit-for-bit at a fixed thread count and its cross-thread difference is measured.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/threads.h"

using namespace difflab::tensor;

namespace {
bool bit_equal(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}
template <typename F>
std::pair<Tensor, Tensor> at_1_and_2_threads(F f) {
  int saved = get_num_threads();
  set_num_threads(1);
  Tensor one = f();
  set_num_threads(2);
  Tensor two = f();
  set_num_threads(saved);
  return {one, two};
}
struct Fix {
  Fix() {
    Generator g(5);
    x = randn({64, 64, 28, 28}, DType::f32, &g);
  }
  Tensor x;
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(reductions_bit_identical_across_threads, Fix) {
  auto check = [&](const char* what, auto f) {
    auto [a, b] = at_1_and_2_threads(f);
    BOOST_TEST(bit_equal(a, b), what << " differs between 1 and 2 threads");
  };
  check("sum all", [&] { return sum(x, {}); });
  check("sum over N,H,W", [&] { return sum(x, {0, 2, 3}); });
  check("sum over C", [&] { return sum(x, {1}); });
  check("sum over last", [&] { return sum(x, {3}); });
  check("mean over dims", [&] { return mean(x, {1, 2, 3}); });
  check("var over dims", [&] { return var(x, {0, 2, 3}); });
  check("amax", [&] { return amax(x, 1); });
  check("logsumexp", [&] { return logsumexp(x, {2, 3}); });
  check("sum of transposed", [&] { return sum(x.transpose(1, 3), {0, 1}); });
  check("elementwise chain", [&] {
    return unary(UnaryOp::silu, binary(BinaryOp::mul, x, x.slice(0, 0, 1)));
  });
  check("randn", [&] {
    Generator g(9);
    return randn({1 << 20}, DType::f32, &g);
  });
}

BOOST_AUTO_TEST_CASE(matmul_deterministic_at_fixed_threads_and_close_across) {
  Generator g(6);
  Tensor a = randn({300, 2000}, DType::f32, &g), b = randn({2000, 170}, DType::f32, &g);
  set_num_threads(2);
  Tensor r1 = matmul(a, b), r2 = matmul(a, b);
  BOOST_TEST(bit_equal(r1, r2), "matmul differs between two runs at 2 threads");
  auto [one, two] = at_1_and_2_threads([&] { return matmul(a, b); });
  auto v1 = one.to_vector<float>(), v2 = two.to_vector<float>();
  double maxrel = 0;
  for (size_t i = 0; i < v1.size(); ++i)
    maxrel = std::max(maxrel, double(std::abs(v1[i] - v2[i])) / (std::abs(v2[i]) + 1.0));
  BOOST_TEST_MESSAGE("matmul 300x2000x170 f32, 1 vs 2 threads (OpenBLAS): bit-identical = "
                     << bit_equal(one, two) << ", max relative difference " << maxrel);
  // f32 rounding over K = 2000 terms of magnitude ~45: a reordered sum differs by ~1e-5 relative.
  BOOST_TEST(maxrel < 2e-4);
}
