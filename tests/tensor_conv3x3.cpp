// The direct 3x3 convolution (tensor/cpu/conv3x3.h): the kernels in f32 against the f64 im2col
// path on shapes with channel and position tails; conv2d and both its gradients taking them
// where they pay and not elsewhere; the same bits at 1, 2 and 3 threads; no leak from one image's
// scratch into the next. Skipped, saying so, in a build without AVX-512F.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/cpu/conv3x3.h"
#include "tensor/cpu/conv_path.h"
#include "tensor/cpu/winograd.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/threads.h"
#include "tests/support/compare.h"

using namespace difflab::tensor;
using difflab::testing::bit_equal;
using difflab::testing::rel_diff;

namespace {

const Conv2dParams kSame{1, 1, 1, 1, 1, 1, 1};

// A precondition: without AVX-512F these kernels are not compiled; Boost reports the case as
// skipped, and so does ctest (tests/CMakeLists.txt).
boost::test_tools::assertion_result built(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(cpu::conv3x3_built());
  r.message() << "this build does not target AVX-512F, so the direct 3x3 kernels are not compiled";
  return r;
}

// Switches the Winograd path (tensor/cpu/winograd.h) off for the scope: these tests are the
// direct kernels' and im2col + GEMM's.
struct NoWinograd {
  bool saved = cpu::winograd_enabled();
  NoWinograd() { cpu::set_winograd_enabled(false); }
  ~NoWinograd() { cpu::set_winograd_enabled(saved); }
};

// Runs f with the direct kernels switched on or off (Winograd off), restoring the switches.
template <typename F>
Tensor with_direct(bool on, F f) {
  const NoWinograd no_winograd;
  const bool saved = cpu::conv3x3_enabled();
  cpu::set_conv3x3_enabled(on);
  Tensor t = f();
  cpu::set_conv3x3_enabled(saved);
  return t;
}

// f's result, and the path the convolution in it took.
template <typename F>
std::pair<Tensor, cpu::ConvPath> with_direct_path(bool on, F f) {
  Tensor t = with_direct(on, f);
  return {t, cpu::last_conv_path()};
}

struct Case {
  int64_t n, cin, cout, h, w;
};

// Random operands of a case in f64 (the reference) and their f32 copies.
struct Operands {
  Tensor x, w, b, g, x32, w32, b32, g32;
  Operands(const Case& c, Generator& gen)
      : x(randn({c.n, c.cin, c.h, c.w}, DType::f64, &gen)),
        w(randn({c.cout, c.cin, 3, 3}, DType::f64, &gen)),
        b(randn({c.cout}, DType::f64, &gen)),
        g(randn({c.n, c.cout, c.h, c.w}, DType::f64, &gen)),
        x32(x.to(DType::f32)),
        w32(w.to(DType::f32)),
        b32(b.to(DType::f32)),
        g32(g.to(DType::f32)) {}
};

}  // namespace

// The kernels themselves on every case: forward with bias and the input gradient (from the
// transposed, flipped packing) image by image, the weight gradient over the images.
BOOST_AUTO_TEST_CASE(kernel_matches_f64_on_channel_and_position_tails,
                     *boost::unit_test::precondition(built)) {
  // cout 5, 17: a partial block of 8 channels, and of 3 for the weight gradient (5 = 3 + 2,
  // 17 = 15 + 2, 70 = 69 + 1 as cout of the input gradient); H (W + 2) not a multiple of 16,
  // and blocks of 1, 2 and 3 vectors; 1-wide and 1-high planes; the U-Net's three levels.
  const Case cases[] = {{2, 3, 5, 5, 9},    {1, 1, 1, 1, 1},     {2, 7, 17, 7, 7},
                        {2, 4, 8, 20, 1},   {2, 6, 9, 1, 40},    {1, 32, 32, 28, 28},
                        {1, 64, 64, 14, 14}, {1, 128, 128, 7, 7}, {2, 70, 3, 11, 13}};
  Generator gen(31);
  for (const Case& c : cases) {
    const Operands o(c, gen);
    const Tensor &x = o.x, &w = o.w, &b = o.b, &g = o.g;
    const Tensor &x32 = o.x32, &w32 = o.w32, &b32 = o.b32, &g32 = o.g32;
    const cpu::Conv3x3Plan fwd{.cin = c.cin, .cout = c.cout, .H = c.h, .W = c.w};
    const cpu::Conv3x3Plan bwd{.cin = c.cout, .cout = c.cin, .H = c.h, .W = c.w};
    std::vector<float> pf(fwd.packed_floats()), pb(bwd.packed_floats());
    std::vector<float> scratch(std::max(fwd.scratch_floats(), bwd.scratch_floats()));
    cpu::conv3x3_pack_weights(fwd, w32.data<float>(), false, pf.data());
    cpu::conv3x3_pack_weights(bwd, w32.data<float>(), true, pb.data());
    Tensor y = Tensor::empty({c.n, c.cout, c.h, c.w}, DType::f32);
    Tensor dx = Tensor::empty({c.n, c.cin, c.h, c.w}, DType::f32);
    const int64_t plane = c.h * c.w;
    for (int64_t n = 0; n < c.n; ++n) {
      cpu::conv3x3_image(fwd, x32.data<float>() + n * c.cin * plane, pf.data(), b32.data<float>(),
                         y.data<float>() + n * c.cout * plane, scratch.data());
      cpu::conv3x3_image(bwd, g32.data<float>() + n * c.cout * plane, pb.data(), nullptr,
                         dx.data<float>() + n * c.cin * plane, scratch.data());
    }
    // The weight gradient over all the case's images at once.
    Tensor dw = Tensor::empty({c.cout, c.cin, 3, 3}, DType::f32);
    std::vector<float> wscratch(fwd.weight_grad_scratch_floats(c.n));
    cpu::conv3x3_weight_grad(fwd, x32.data<float>(), g32.data<float>(), c.n, false,
                             dw.data<float>(), wscratch.data());
    BOOST_TEST_CONTEXT("cin " << c.cin << " cout " << c.cout << " " << c.h << "x" << c.w) {
      BOOST_TEST(rel_diff(y, conv2d(x, w, b, kSame)) <= 1e-5);
      BOOST_TEST(rel_diff(dx, conv2d_input_grad(g, w, x.shape(), kSame)) <= 1e-5);
      BOOST_TEST(rel_diff(dw, conv2d_weight_grad(g, x, w.shape(), kSame)) <= 1e-5);
    }
  }
}

// The weight gradient of 3 images as 1 image, then 2 more added onto it (how conv2d splits a
// part of the batch whose scratch would be too large).
BOOST_AUTO_TEST_CASE(weight_gradient_accumulates_over_calls,
                     *boost::unit_test::precondition(built)) {
  Generator gen(36);
  Tensor x = randn({3, 5, 9, 14}, DType::f64, &gen), g = randn({3, 7, 9, 14}, DType::f64, &gen);
  Tensor x32 = x.to(DType::f32), g32 = g.to(DType::f32);
  const cpu::Conv3x3Plan plan{.cin = 5, .cout = 7, .H = 9, .W = 14};
  std::vector<float> scratch(plan.weight_grad_scratch_floats(2));
  Tensor dw = Tensor::empty({7, 5, 3, 3}, DType::f32);
  const int64_t xi = 5 * 9 * 14, gi = 7 * 9 * 14;
  cpu::conv3x3_weight_grad(plan, x32.data<float>(), g32.data<float>(), 1, false, dw.data<float>(),
                           scratch.data());
  cpu::conv3x3_weight_grad(plan, x32.data<float>() + xi, g32.data<float>() + gi, 2, true,
                           dw.data<float>(), scratch.data());
  BOOST_TEST(rel_diff(dw, conv2d_weight_grad(g, x, {7, 5, 3, 3}, kSame)) <= 1e-5);
}

// conv2d takes the kernel for batches of 4 or more where it wastes at most a fifth of its
// positions (28x28, 14x14, 11x13, 1x40), and keeps im2col + GEMM at 7x7 and 5x9.
BOOST_AUTO_TEST_CASE(conv2d_takes_the_direct_path_where_it_pays,
                     *boost::unit_test::precondition(built)) {
  const std::pair<Case, bool> cases[] = {{{4, 32, 32, 28, 28}, true}, {{5, 64, 16, 14, 14}, true},
                                         {{4, 70, 3, 11, 13}, true},  {{4, 8, 9, 1, 40}, true},
                                         {{4, 16, 16, 7, 7}, false},  {{6, 16, 8, 5, 9}, false}};
  Generator gen(35);
  for (const auto& [c, direct] : cases) {
    const Operands o(c, gen);
    const Tensor &x = o.x, &w = o.w, &b = o.b, &g = o.g;
    const Tensor &x32 = o.x32, &w32 = o.w32, &b32 = o.b32, &g32 = o.g32;
    auto fwd = [&] { return conv2d(x32, w32, b32, kSame); };
    auto bwd = [&] { return conv2d_input_grad(g32, w32, x.shape(), kSame); };
    auto wgt = [&] { return conv2d_weight_grad(g32, x32, w.shape(), kSame); };
    const auto [y, py] = with_direct_path(true, fwd);
    const auto [dx, pdx] = with_direct_path(true, bwd);
    const auto [dw, pdw] = with_direct_path(true, wgt);
    const cpu::ConvPath want = direct ? cpu::ConvPath::direct : cpu::ConvPath::im2col;
    BOOST_TEST_CONTEXT("n " << c.n << " cin " << c.cin << " " << c.h << "x" << c.w) {
      BOOST_TEST(rel_diff(y, conv2d(x, w, b, kSame)) <= 1e-5);
      BOOST_TEST(rel_diff(dx, conv2d_input_grad(g, w, x.shape(), kSame)) <= 1e-5);
      BOOST_TEST(rel_diff(dw, conv2d_weight_grad(g, x, w.shape(), kSame)) <= 1e-5);
      BOOST_TEST(cpu::conv_path_name(py) == cpu::conv_path_name(want));
      BOOST_TEST(cpu::conv_path_name(pdx) == cpu::conv_path_name(want));
      BOOST_TEST(cpu::conv_path_name(pdw) == cpu::conv_path_name(want));
      // Switched off, im2col + GEMM: the same values within rounding.
      const auto [y0, p0] = with_direct_path(false, fwd);
      BOOST_TEST(cpu::conv_path_name(p0) == "im2col");
      BOOST_TEST(rel_diff(y0, y) <= 1e-5);
    }
  }
}

BOOST_AUTO_TEST_CASE(direct_3x3_same_bits_at_1_2_and_3_threads,
                     *boost::unit_test::precondition(built)) {
  Generator gen(32);
  Tensor x = randn({19, 16, 14, 14}, DType::f32, &gen), w = randn({24, 16, 3, 3}, DType::f32, &gen);
  Tensor b = randn({24}, DType::f32, &gen), g = randn({19, 24, 14, 14}, DType::f32, &gen);
  const int saved = get_num_threads();
  const NoWinograd no_winograd;
  Tensor y[3], dx[3], dw[3];
  for (int t = 1; t <= 3; ++t) {
    set_num_threads(t);
    y[t - 1] = conv2d(x, w, b, kSame);
    dx[t - 1] = conv2d_input_grad(g, w, x.shape(), kSame);
    dw[t - 1] = conv2d_weight_grad(g, x, w.shape(), kSame);
  }
  set_num_threads(saved);
  for (int t = 1; t < 3; ++t) {
    BOOST_TEST(bit_equal(y[0], y[t]), "conv2d at 1 and " << t + 1 << " threads");
    BOOST_TEST(bit_equal(dx[0], dx[t]), "conv2d_input_grad at 1 and " << t + 1 << " threads");
    BOOST_TEST(bit_equal(dw[0], dw[t]), "conv2d_weight_grad at 1 and " << t + 1 << " threads");
  }
}

BOOST_AUTO_TEST_CASE(an_image_of_nan_does_not_reach_the_next_images,
                     *boost::unit_test::precondition(built)) {
  // At 1 thread the images share one scratch: NaN in image 0, including its last column and
  // row, must not survive into the padding that images 1..4 read.
  Generator gen(33);
  Tensor x = randn({5, 3, 6, 14}, DType::f32, &gen), w = randn({4, 3, 3, 3}, DType::f32, &gen);
  float* px = x.data<float>();
  for (int64_t i = 0; i < 3 * 6 * 14; ++i) px[i] = std::numeric_limits<float>::quiet_NaN();
  const int saved = get_num_threads();
  set_num_threads(1);
  Tensor y = conv2d(x, w, Tensor(), kSame);
  set_num_threads(saved);
  const auto v = y.to_vector<double>();
  const size_t per = 4 * 6 * 14;
  size_t nan0 = 0, nan_rest = 0;
  for (size_t i = 0; i < v.size(); ++i) (i < per ? nan0 : nan_rest) += std::isnan(v[i]);
  BOOST_TEST(nan0 == per);
  BOOST_TEST(nan_rest == 0u);
}

BOOST_AUTO_TEST_CASE(other_convolutions_keep_the_im2col_path,
                     *boost::unit_test::precondition(built)) {
  // Stride 2, padding 0, groups 2, f64 and batches under 4 are not the direct kernel's: the
  // switch changes nothing for them.
  Generator gen(34);
  struct Other {
    Shape xs, ws;
    Conv2dParams p;
    DType dt;
  };
  const Other others[] = {{{4, 16, 14, 14}, {16, 16, 3, 3}, {2, 2, 1, 1, 1, 1, 1}, DType::f32},
                          {{4, 16, 14, 14}, {16, 16, 3, 3}, {1, 1, 0, 0, 1, 1, 1}, DType::f32},
                          {{4, 16, 14, 14}, {16, 8, 3, 3}, {1, 1, 1, 1, 1, 1, 2}, DType::f32},
                          {{4, 16, 14, 14}, {16, 16, 3, 3}, kSame, DType::f64},
                          {{3, 16, 14, 14}, {16, 16, 3, 3}, kSame, DType::f32}};
  for (const Other& o : others) {
    Tensor x = randn(o.xs, o.dt, &gen), w = randn(o.ws, o.dt, &gen);
    const auto [y, path] = with_direct_path(true, [&] { return conv2d(x, w, Tensor(), o.p); });
    BOOST_TEST(cpu::conv_path_name(path) == "im2col");
    BOOST_TEST(bit_equal(y, with_direct(false, [&] { return conv2d(x, w, Tensor(), o.p); })));
  }
}
