// Same results at 1, 2 and 3 threads, bit for bit: difflab's own kernels (reductions, RNG,
// elementwise) and the GEMM behind matmul and conv2d (tensor/cpu/gemm.h), which cuts C into tiles
// fixed by the shape and runs each as a single-threaded OpenBLAS call — OpenBLAS itself changes
// bits with its thread count (DESIGN.md). The shapes reach every path of that GEMM: serial below
// OpenBLAS's own threading threshold, a single tile just above it, tiled 2-D products, batches
// with broadcasting, transposed and strided operands, and the convolutions' chunked weight
// gradient summed over images. tests/nn_determinism.cpp checks a whole U-Net training step.
#include <boost/test/unit_test.hpp>
#include <omp.h>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "tensor/cpu/gemm.h"
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
// Runs f at 1, 2 and 3 threads and checks that 2 and 3 give the bits of 1; returns the result.
Tensor check_thread_invariant(const std::string& what, const std::function<Tensor()>& f) {
  const int saved = get_num_threads();
  set_num_threads(1);
  Tensor one = f();
  for (int n : {2, 3}) {
    set_num_threads(n);
    BOOST_TEST(bit_equal(one, f()), what << ": " << n << " threads differ from 1");
  }
  set_num_threads(saved);
  return one;
}
Tensor rand(const Shape& shape, uint64_t seed, DType dtype = DType::f32) {
  Generator g(seed);
  return randn(shape, dtype, &g);
}
// max |c − a·b| / (|a|·|b| summed) over every entry of a 2-D product, in f64: the tiles together
// cover C exactly once whatever their boundaries.
double naive_error(const Tensor& a, const Tensor& b, const Tensor& c) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  auto va = a.to(DType::f64).contiguous().to_vector<double>();
  auto vb = b.to(DType::f64).contiguous().to_vector<double>();
  auto vc = c.to(DType::f64).contiguous().to_vector<double>();
  double worst = 0;
  std::vector<double> acc(static_cast<size_t>(N)), mag(static_cast<size_t>(N));
  for (int64_t i = 0; i < M; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0);
    std::fill(mag.begin(), mag.end(), 0.0);
    for (int64_t k = 0; k < K; ++k) {
      const double x = va[size_t(i * K + k)];
      const double* brow = vb.data() + k * N;
      for (int64_t j = 0; j < N; ++j)
        acc[size_t(j)] += x * brow[j], mag[size_t(j)] += std::abs(x * brow[j]);
    }
    for (int64_t j = 0; j < N; ++j)
      worst = std::max(worst,
                       std::abs(vc[size_t(i * N + j)] - acc[size_t(j)]) / (mag[size_t(j)] + 1e-30));
  }
  return worst;
}
// Tiles per product in the GEMM's grid, to check that a case reaches the path it is meant for.
int64_t tiles(int64_t m, int64_t n, int64_t k, int64_t count = 1, int64_t terms = 1) {
  const cpu::GemmGrid g = cpu::gemm_grid(m, n, k, count, terms);
  return g.gm * g.gn;
}
double dot(const Tensor& a, const Tensor& b) {
  return sum(binary(BinaryOp::mul, a.to(DType::f64), b.to(DType::f64)), {}).item();
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
  check("elementwise chain",
        [&] { return unary(UnaryOp::silu, binary(BinaryOp::mul, x, x.slice(0, 0, 1))); });
  check("randn", [&] {
    Generator g(9);
    return randn({1 << 20}, DType::f32, &g);
  });
}

BOOST_AUTO_TEST_CASE(matmul_2d_bit_identical_across_threads_and_correct) {
  struct Case {
    int64_t m, k, n;
    DType dtype;
  };
  // 3x7x5: serial; 64x65x64: one tile just above OpenBLAS's threading threshold (a team of 1
  // would let OpenBLAS thread it); 300x2000x170: 2 x 2 tiles of unequal size; 512^3: 4 x 4.
  BOOST_TEST(tiles(64, 64, 65) == 1);
  BOOST_TEST(tiles(300, 170, 2000) == 4);
  BOOST_TEST(tiles(512, 512, 512) == 16);
  for (const Case& c : {Case{3, 7, 5, DType::f32}, Case{3, 7, 5, DType::f64},
                        Case{64, 65, 64, DType::f32}, Case{300, 2000, 170, DType::f32},
                        Case{512, 512, 512, DType::f32}, Case{257, 300, 190, DType::f64}}) {
    Tensor a = rand({c.m, c.k}, 1, c.dtype), b = rand({c.k, c.n}, 2, c.dtype);
    const std::string what =
        "matmul " + shape_str({c.m, c.k, c.n}) + " " + (c.dtype == DType::f32 ? "f32" : "f64");
    Tensor r = check_thread_invariant(what, [&] { return matmul(a, b); });
    const double tol = c.dtype == DType::f32 ? 1e-5 : 1e-13;
    BOOST_TEST(naive_error(a, b, r) < tol, what << " against a naive f64 product");
  }
  Tensor a = rand({1024, 1024}, 3), b = rand({1024, 1024}, 4);
  check_thread_invariant("matmul 1024^3 f32", [&] { return matmul(a, b); });
}

BOOST_AUTO_TEST_CASE(matmul_strided_and_batched_bit_identical_across_threads) {
  // Transposed operands (BLAS trans flags), a leading dimension wider than the row, and a
  // stride-2 slice that matmul copies first.
  Tensor at = rand({700, 300}, 5), bt = rand({190, 700}, 6), wide = rand({300, 1400}, 7);
  // The tile offsets of transposed and wide operands are checked against a naive product.
  auto a_t = at.transpose(0, 1), b_t = bt.transpose(0, 1), a_wide = wide.slice(1, 0, 700);
  Tensor r = check_thread_invariant("matmul aᵀ bᵀ", [&] { return matmul(a_t, b_t); });
  BOOST_TEST(naive_error(a_t, b_t, r) < 1e-5);
  r = check_thread_invariant("matmul a[:, :700] bᵀ", [&] { return matmul(a_wide, b_t); });
  BOOST_TEST(naive_error(a_wide, b_t, r) < 1e-5);
  check_thread_invariant("matmul a[:, ::2] bᵀ",
                         [&] { return matmul(wide.slice(1, 0, 1400, 2), b_t); });
  check_thread_invariant("matrix-vector", [&] { return matmul(wide, rand({1400}, 8)); });
  // Batches: broadcast [4, 1] against [3] (12 products, each cut in two), many small products
  // (one tile each), f64 attention-like scores with a transposed operand.
  Tensor ba = rand({4, 1, 200, 300}, 9), bb = rand({3, 300, 230}, 10);
  BOOST_TEST(tiles(200, 230, 300, 12) == 2);
  BOOST_TEST(tiles(32, 40, 48, 64) == 1);
  r = check_thread_invariant("batched broadcast", [&] { return matmul(ba, bb); });
  BOOST_TEST(naive_error(ba.select(0, 3).select(0, 0), bb.select(0, 1),
                         r.select(0, 3).select(0, 1)) < 1e-5);
  Tensor sa = rand({64, 32, 48}, 11), sb = rand({64, 48, 40}, 12);
  check_thread_invariant("batched small", [&] { return matmul(sa, sb); });
  Tensor q = rand({8, 196, 32}, 13, DType::f64), kk = rand({8, 196, 32}, 14, DType::f64);
  check_thread_invariant("batched q kᵀ f64", [&] { return matmul(q, kk.transpose(1, 2)); });
}

BOOST_AUTO_TEST_CASE(conv2d_and_gradients_bit_identical_across_threads) {
  struct Case {
    const char* name;
    Shape x, w;
    Conv2dParams p;
    DType dtype;
  };
  const Case cases[] = {
      // Batches of 4 or more run image-parallel (whole products per image, the weight
      // gradient summed in parts); smaller ones cut each product into tiles.
      {"3x3 pad 1", {6, 64, 14, 14}, {64, 64, 3, 3}, {.pad_h = 1, .pad_w = 1}, DType::f32},
      {"3x3 pad 1 batch 2 (tiled)", {2, 64, 14, 14}, {64, 64, 3, 3}, {.pad_h = 1, .pad_w = 1},
       DType::f32},
      {"3x3 stride 2",
       {6, 12, 17, 15},
       {24, 12, 3, 3},
       {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
       DType::f32},
      {"groups 4 dilation 2",
       {5, 16, 12, 12},
       {32, 4, 3, 3},
       {.pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2, .groups = 4},
       DType::f32},
      {"1x1", {8, 64, 16, 16}, {96, 64, 1, 1}, {}, DType::f32},
      // Short planes (7x7) run 8 images per product: groups of 8, 8 and 3.
      {"7x7 in groups", {19, 32, 7, 7}, {32, 32, 3, 3}, {.pad_h = 1, .pad_w = 1}, DType::f32},
      {"3x3 f64", {4, 8, 14, 14}, {16, 8, 3, 3}, {.pad_h = 1, .pad_w = 1}, DType::f64},
      // 21 MiB of columns per image and a batch of 3: one image per chunk, so the weight
      // gradient is summed over three chunks (beta = 1 after the first).
      {"3x3 chunked", {3, 64, 96, 96}, {8, 64, 3, 3}, {.pad_h = 1, .pad_w = 1}, DType::f32},
  };
  // The weight gradient of "3x3 pad 1 batch 2" is [64, 576] summed over 2 images in 4 tiles.
  BOOST_TEST(tiles(64, 576, 196, 1, 2) == 4);
  uint64_t seed = 20;
  for (const Case& c : cases) {
    Tensor x = rand(c.x, seed++, c.dtype), w = rand(c.w, seed++, c.dtype);
    Tensor bias = rand({c.w[0]}, seed++, c.dtype);
    Tensor y = check_thread_invariant(std::string(c.name) + " forward",
                                      [&] { return conv2d(x, w, bias, c.p); });
    Tensor dy = rand(y.shape(), seed++, c.dtype);
    Tensor dx = check_thread_invariant(std::string(c.name) + " input grad",
                                       [&] { return conv2d_input_grad(dy, w, c.x, c.p); });
    Tensor dw = check_thread_invariant(std::string(c.name) + " weight grad",
                                       [&] { return conv2d_weight_grad(dy, x, c.w, c.p); });
    // The three are different GEMMs over different tiles, tied by the adjoint identity
    // <conv(x, w), dy> = <x, dx> = <w, dw>: a misplaced tile breaks it.
    const double lhs = dot(conv2d(x, w, Tensor(), c.p), dy);
    const double tol = (c.dtype == DType::f32 ? 1e-4 : 1e-11) * (1.0 + std::abs(lhs));
    BOOST_TEST(std::abs(dot(x, dx) - lhs) <= tol, c.name << ": <x, dx> against <conv(x, w), dy>");
    BOOST_TEST(std::abs(dot(w, dw) - lhs) <= tol, c.name << ": <w, dw> against <conv(x, w), dy>");
  }
}

// gemm_serial is one single-threaded OpenBLAS call: inside a team of 2 it gives the bits of a
// call at 1 thread; outside a parallel region with 2 threads allowed (where OpenBLAS would split
// it) it refuses with an error naming itself.
BOOST_AUTO_TEST_CASE(gemm_serial_is_one_single_threaded_call) {
  Tensor a = rand({96, 80}, 40), b = rand({80, 112}, 41);
  const cpu::GemmShape s{.m = 96, .n = 112, .k = 80, .lda = 80, .ldb = 112, .ldc = 112};
  auto run = [&](Tensor& c) {
    cpu::gemm_serial<float>(s, 1.0f, a.data<float>(), b.data<float>(), 0.0f, c.data<float>());
  };
  const int saved = get_num_threads();
  set_num_threads(1);
  Tensor one = zeros({96, 112}, DType::f32);
  run(one);
  BOOST_TEST(naive_error(a, b, one) < 1e-6);
  set_num_threads(2);
  Tensor two = zeros({96, 112}, DType::f32), other = zeros({96, 112}, DType::f32);
#pragma omp parallel num_threads(2)
  {
    if (omp_get_thread_num() == 0) run(two);
    else run(other);
  }
  BOOST_TEST(bit_equal(one, two));
  BOOST_TEST(bit_equal(one, other));
  Tensor outside = zeros({96, 112}, DType::f32);
  BOOST_CHECK_EXCEPTION(run(outside), difflab::Error, [](const difflab::Error& e) {
    return std::string(e.what()).find("gemm_serial") != std::string::npos;
  });
  set_num_threads(saved);
}
