// The Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions (tensor/cpu/winograd.h): the kernels in
// f32 against the f64 im2col path on shapes with channel, tile and chunk tails and blocks that
// span images; conv2d and both its gradients taking them where they apply and not elsewhere; the
// same bits at 1, 2 and 3 threads; no leak from one image or block into the next. Skipped, saying
// so, in a build without AVX-512F.
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
  r.message() << "this build does not target AVX-512F, so the Winograd kernels are not compiled";
  return r;
}

// max |a - ref| over max |scale|.
double diff_over(const Tensor& a, const Tensor& ref, const Tensor& scale) {
  const auto va = a.to_vector<double>(), vr = ref.to_vector<double>();
  const auto vs = scale.to_vector<double>();
  double d = 0, m = 1e-30;
  for (size_t i = 0; i < va.size(); ++i)
    d = std::max(d, std::abs(va[i] - vr[i])), m = std::max(m, std::abs(vs[i]));
  return d / m;
}

struct Case {
  int64_t n, cin, cout, h, w;
};

// y [n, cout, h, w] (or dx with `transposed`) through a forward kernel alone (F(2x2, 3x3), or
// F(4x4, 3x3) with `f4`), block by block on one scratch, in f32.
template <typename Plan, typename Pack, typename Block>
Tensor run_blocks(const Plan& plan, Pack pack, Block block, const Tensor& in, const Tensor& w,
                  const Tensor& bias, bool transposed) {
  std::vector<float> packed(plan.packed_floats()), scratch(plan.scratch_floats());
  pack(plan, w.data<float>(), transposed, packed.data());
  Tensor out = Tensor::empty({plan.images, plan.cout, plan.H, plan.W}, DType::f32);
  for (int64_t b = 0; b < plan.blocks(); ++b)
    block(plan, b, in.data<float>(), packed.data(), bias.defined() ? bias.data<float>() : nullptr,
          out.data<float>(), scratch.data());
  return out;
}

Tensor run_kernel(const Case& c, const Tensor& in, const Tensor& w, const Tensor& bias,
                  bool transposed, bool f4) {
  const int64_t cin = transposed ? c.cout : c.cin, cout = transposed ? c.cin : c.cout;
  if (f4)
    return run_blocks(
        cpu::Winograd4Plan{.images = c.n, .cin = cin, .cout = cout, .H = c.h, .W = c.w},
        cpu::winograd4_pack_weights, cpu::winograd4_block, in, w, bias, transposed);
  return run_blocks(cpu::WinogradPlan{.images = c.n, .cin = cin, .cout = cout, .H = c.h, .W = c.w},
                    cpu::winograd_pack_weights, cpu::winograd_block, in, w, bias, transposed);
}

// dw [cout, cin, 3, 3] through a weight-gradient kernel alone, images [0, split) and
// [split, n) as two parts whose sums are added before the last step, in f32.
template <typename Plan, typename Grad, typename Finish>
Tensor run_weight_blocks(const Plan& plan, Grad grad, Finish finish, const Tensor& x,
                         const Tensor& g, int64_t split) {
  const int64_t sum = plan.grad_sum_floats();
  std::vector<float> du(2 * sum), scratch(plan.weight_grad_scratch_floats());
  grad(plan, 0, split, x.data<float>(), g.data<float>(), du.data(), scratch.data());
  grad(plan, split, plan.images, x.data<float>(), g.data<float>(), du.data() + sum, scratch.data());
  for (int64_t i = 0; i < sum; ++i) du[i] += du[sum + i];
  Tensor dw = Tensor::empty({plan.cout, plan.cin, 3, 3}, DType::f32);
  finish(plan, du.data(), dw.data<float>());
  return dw;
}

Tensor run_weight_kernel(const Case& c, const Tensor& x, const Tensor& g, int64_t split, bool f4) {
  if (f4)
    return run_weight_blocks(
        cpu::Winograd4Plan{.images = c.n, .cin = c.cin, .cout = c.cout, .H = c.h, .W = c.w},
        cpu::winograd4_weight_grad, cpu::winograd4_weight_grad_finish, x, g, split);
  return run_weight_blocks(
      cpu::WinogradPlan{.images = c.n, .cin = c.cin, .cout = c.cout, .H = c.h, .W = c.w},
      cpu::winograd_weight_grad, cpu::winograd_weight_grad_finish, x, g, split);
}

// Sets the switches for the scope: Winograd on or off (F(4x4, 3x3) on with it), the direct
// kernels on.
struct Winograd {
  bool saved_w = cpu::winograd_enabled(), saved_w4 = cpu::winograd4_enabled();
  bool saved_d = cpu::conv3x3_enabled();
  explicit Winograd(bool on) {
    cpu::set_winograd_enabled(on);
    cpu::set_winograd4_enabled(true);
    cpu::set_conv3x3_enabled(true);
  }
  ~Winograd() {
    cpu::set_winograd_enabled(saved_w);
    cpu::set_winograd4_enabled(saved_w4);
    cpu::set_conv3x3_enabled(saved_d);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(kernel_matches_f64_on_channel_tile_and_chunk_tails,
                     *boost::unit_test::precondition(built)) {
  // Odd planes (a last tile row and column half outside), 1-wide and 1-high planes, planes of
  // 2 and 3 chunks of 16 tiles (W 33, 70), cout tails of the 8-channel blocks, blocks spanning
  // several images (5 images of 6x6) and a partial last block, the U-Net's three levels.
  const Case cases[] = {{2, 3, 5, 5, 9},     {1, 1, 1, 1, 1},    {2, 7, 17, 7, 7},
                        {2, 4, 8, 20, 1},    {2, 6, 9, 1, 40},   {1, 5, 3, 3, 70},
                        {3, 20, 12, 9, 33},  {5, 9, 11, 6, 6},   {2, 32, 32, 28, 28},
                        {3, 64, 64, 14, 14}, {3, 128, 128, 7, 7}};
  Generator gen(41);
  int gathered = 0;
  for (const Case& c : cases) {
    gathered += cpu::Winograd4Plan{.images = c.n, .cin = c.cin, .cout = c.cout, .H = c.h, .W = c.w}
                    .gathered();
    const Tensor x = randn({c.n, c.cin, c.h, c.w}, DType::f64, &gen);
    const Tensor w = randn({c.cout, c.cin, 3, 3}, DType::f64, &gen);
    const Tensor b = randn({c.cout}, DType::f64, &gen);
    const Tensor g = randn({c.n, c.cout, c.h, c.w}, DType::f64, &gen);
    const Tensor w32 = w.to(DType::f32);
    const Tensor x32 = x.to(DType::f32), b32 = b.to(DType::f32), g32 = g.to(DType::f32);
    const Tensor y = run_kernel(c, x32, w32, b32, false, false);
    const Tensor dx = run_kernel(c, g32, w32, Tensor(), true, false);
    const Tensor y4 = run_kernel(c, x32, w32, b32, false, true);
    const Tensor dx4 = run_kernel(c, g32, w32, Tensor(), true, true);
    const Tensor dw = run_weight_kernel(c, x32, g32, c.n / 2, false);
    const Tensor dw4 = run_weight_kernel(c, x32, g32, c.n / 2, true);
    BOOST_TEST_CONTEXT("n " << c.n << " cin " << c.cin << " cout " << c.cout << " " << c.h << "x"
                            << c.w) {
      // The transforms' rounding scales with the sums of |w| |x| (the terms cancel in the
      // exact result): bounded against those, as the direct kernels' against the result.
      const Tensor wa = unary(UnaryOp::abs, w);
      const Tensor ys = conv2d(unary(UnaryOp::abs, x), wa, unary(UnaryOp::abs, b), kSame);
      const Tensor dxs = conv2d_input_grad(unary(UnaryOp::abs, g), wa, x.shape(), kSame);
      const Tensor yr = conv2d(x, w, b, kSame), dxr = conv2d_input_grad(g, w, x.shape(), kSame);
      const double ey = diff_over(y, yr, ys), edx = diff_over(dx, dxr, dxs);
      // F(4x4, 3x3)'s transforms have larger coefficients (up to 8) and round more.
      BOOST_TEST(diff_over(y4, yr, ys) <= 4e-6);
      BOOST_TEST(diff_over(dx4, dxr, dxs) <= 4e-6);
      const Tensor dws =
          conv2d_weight_grad(unary(UnaryOp::abs, g), unary(UnaryOp::abs, x), w.shape(), kSame);
      const Tensor dwr = conv2d_weight_grad(g, x, w.shape(), kSame);
      const double edw = diff_over(dw, dwr, dws);
      BOOST_TEST(diff_over(dw4, dwr, dws) <= 4e-6);
      BOOST_TEST(ey <= 1e-6);
      BOOST_TEST(edx <= 1e-6);
      BOOST_TEST(edw <= 1e-6);
    }
  }
  // Both of F(4x4, 3x3)'s ways of taking tiles.
  BOOST_TEST(gathered > 2);
  BOOST_TEST(gathered < int(std::size(cases)) - 2);
}

BOOST_AUTO_TEST_CASE(blocks_cover_the_tile_rows) {
  const cpu::WinogradPlan level{.images = 64, .cin = 32, .cout = 32, .H = 28, .W = 28};
  BOOST_TEST(level.tiles_w() == 14);
  BOOST_TEST(level.rows() == 64 * 14);
  BOOST_TEST(level.block_rows() >= 1);
  BOOST_TEST(level.blocks() * level.block_rows() >= level.rows());
  BOOST_TEST((level.blocks() - 1) * level.block_rows() < level.rows());
  BOOST_TEST(level.block_tiles() % 16 == 0);
  BOOST_TEST(level.block_tiles() >= level.block_rows() * level.tiles_w());
  // Planes wider than 2 x 16 tiles give blocks of one tile row.
  const cpu::WinogradPlan wide{.images = 1, .cin = 256, .cout = 256, .H = 4, .W = 1000};
  BOOST_TEST(wide.block_rows() == 1);
  BOOST_TEST(wide.block_tiles() == 512);
  // At 7x7 and 128 channels the budget holds 21 tiles (10 rows of 2); 8 rows fill 16 exactly.
  const cpu::Winograd4Plan small{.images = 64, .cin = 128, .cout = 128, .H = 7, .W = 7};
  BOOST_TEST(small.block_rows() == 8);
  BOOST_TEST(small.block_tiles() == 16);
}

// F(4x4, 3x3) gathers each lane's tile on planes 3 tiles wide or narrower, where a block's
// offsets fit 32 bits, and takes tile rows elsewhere.
BOOST_AUTO_TEST_CASE(f4_gathers_on_narrow_planes_only) {
  const auto plan = [](int64_t h, int64_t w) {
    return cpu::Winograd4Plan{.images = 2, .cin = 16, .cout = 16, .H = h, .W = w};
  };
  BOOST_TEST(plan(7, 7).gathered());
  BOOST_TEST(plan(12, 12).gathered());
  BOOST_TEST(!plan(13, 13).gathered());
  BOOST_TEST(!plan(28, 28).gathered());
  BOOST_TEST(!plan(int64_t(1) << 25, 12).gathered());  // 16 x 2^25 x 12 floats a block
}

// conv2d and both its gradients take it for f32 3x3 same convolutions with 16 channels or more
// on both sides, batches of any size.
BOOST_AUTO_TEST_CASE(conv2d_takes_the_winograd_path_where_it_applies,
                     *boost::unit_test::precondition(built)) {
  Generator gen(42);
  struct Use {
    Shape xs, ws;
    Conv2dParams p;
    DType dt;
    bool winograd;
    const char* variant = "winograd";  // which Winograd: all three take the same
  };
  // F(4x4, 3x3) on planes 5 or more wide.
  const Use uses[] = {{{4, 32, 28, 28}, {32, 32, 3, 3}, kSame, DType::f32, true, "winograd4"},
                      {{2, 16, 5, 5}, {16, 16, 3, 3}, kSame, DType::f32, true, "winograd4"},
                      {{2, 16, 5, 4}, {16, 16, 3, 3}, kSame, DType::f32, true},
                      {{1, 16, 7, 9}, {24, 16, 3, 3}, kSame, DType::f32, true, "winograd4"},
                      // wider than the kernels take (kWinogradMaxWidth)
                      {{1, 16, 2, 2050}, {16, 16, 3, 3}, kSame, DType::f32, false},
                      {{4, 8, 14, 14}, {32, 8, 3, 3}, kSame, DType::f32, false},
                      {{4, 32, 14, 14}, {8, 32, 3, 3}, kSame, DType::f32, false},
                      {{4, 16, 14, 14}, {16, 16, 3, 3}, kSame, DType::f64, false},
                      {{4, 16, 14, 14}, {16, 16, 3, 3}, {2, 2, 1, 1, 1, 1, 1}, DType::f32, false},
                      {{4, 16, 14, 14}, {16, 16, 3, 3}, {1, 1, 0, 0, 1, 1, 1}, DType::f32, false},
                      {{4, 32, 14, 14}, {32, 16, 3, 3}, {1, 1, 1, 1, 1, 1, 2}, DType::f32, false}};
  for (const Use& u : uses) {
    const Tensor x = randn(u.xs, u.dt, &gen), w = randn(u.ws, u.dt, &gen);
    const Winograd on(true);
    const Tensor y = conv2d(x, w, Tensor(), u.p);
    const cpu::ConvPath fwd = cpu::last_conv_path();
    const Tensor dx = conv2d_input_grad(y, w, x.shape(), u.p);
    const cpu::ConvPath bwd = cpu::last_conv_path();
    const Tensor dw = conv2d_weight_grad(y, x, w.shape(), u.p);
    const cpu::ConvPath wgt = cpu::last_conv_path();
    BOOST_TEST_CONTEXT("x " << shape_str(u.xs) << " w " << shape_str(u.ws)) {
      const std::string want = u.winograd ? u.variant : "not winograd";
      BOOST_TEST((cpu::conv_path_name(fwd) == want) == u.winograd, cpu::conv_path_name(fwd));
      BOOST_TEST((cpu::conv_path_name(bwd) == want) == u.winograd, cpu::conv_path_name(bwd));
      BOOST_TEST((cpu::conv_path_name(wgt) == want) == u.winograd, cpu::conv_path_name(wgt));
      // Against the same call with Winograd off: the same values within rounding, and the same
      // bits where it was not taken.
      const Winograd off(false);
      const Tensor y0 = conv2d(x, w, Tensor(), u.p);
      const Tensor dx0 = conv2d_input_grad(y, w, x.shape(), u.p);
      const Tensor dw0 = conv2d_weight_grad(y, x, w.shape(), u.p);
      BOOST_TEST(rel_diff(y, y0) <= 1e-5);
      BOOST_TEST(rel_diff(dx, dx0) <= 1e-5);
      BOOST_TEST(rel_diff(dw, dw0) <= 1e-5);
      if (!u.winograd) BOOST_TEST((bit_equal(y, y0) && bit_equal(dx, dx0) && bit_equal(dw, dw0)));
    }
  }
}

// A call that computes nothing (an empty batch) reports no path, not the last call's.
BOOST_AUTO_TEST_CASE(an_empty_call_reports_no_path,
                     *boost::unit_test::precondition(built)) {
  Generator gen(45);
  const Winograd on(true);
  const Tensor w = randn({16, 16, 3, 3}, DType::f32, &gen);
  conv2d(randn({2, 16, 4, 4}, DType::f32, &gen), w, Tensor(), kSame);
  BOOST_TEST(cpu::conv_path_name(cpu::last_conv_path()) == "winograd");
  conv2d(Tensor::empty({0, 16, 6, 6}, DType::f32), w, Tensor(), kSame);
  BOOST_TEST(cpu::conv_path_name(cpu::last_conv_path()) == "none");
}

BOOST_AUTO_TEST_CASE(winograd_same_bits_at_1_2_and_3_threads,
                     *boost::unit_test::precondition(built)) {
  Generator gen(43);
  // F(4x4, 3x3) at 14 x 28, the forward and input gradient by tile rows (with a half-empty last
  // tile row), and at 14 x 10, by gathers in blocks that span images; at 14 x 4, F(2x2, 3x3).
  for (const int64_t wd : {28, 10, 4}) {
    const std::string variant = wd >= 5 ? "winograd4" : "winograd";
    Tensor x = randn({19, 16, 14, wd}, DType::f32, &gen);
    Tensor w = randn({24, 16, 3, 3}, DType::f32, &gen), b = randn({24}, DType::f32, &gen);
    Tensor g = randn({19, 24, 14, wd}, DType::f32, &gen);
    const Winograd on(true);
    const int saved = get_num_threads();
    Tensor y[3], dx[3], dw[3];
    for (int t = 1; t <= 3; ++t) {
      set_num_threads(t);
      y[t - 1] = conv2d(x, w, b, kSame);
      BOOST_TEST(cpu::conv_path_name(cpu::last_conv_path()) == variant);
      dx[t - 1] = conv2d_input_grad(g, w, x.shape(), kSame);
      dw[t - 1] = conv2d_weight_grad(g, x, w.shape(), kSame);
      BOOST_TEST(cpu::conv_path_name(cpu::last_conv_path()) == variant);
    }
    set_num_threads(saved);
    for (int t = 1; t < 3; ++t) {
      BOOST_TEST_CONTEXT("width " << wd << ", 1 and " << t + 1 << " threads") {
        BOOST_TEST(bit_equal(y[0], y[t]), "conv2d");
        BOOST_TEST(bit_equal(dx[0], dx[t]), "conv2d_input_grad");
        BOOST_TEST(bit_equal(dw[0], dw[t]), "conv2d_weight_grad");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(an_image_of_nan_does_not_reach_the_other_images,
                     *boost::unit_test::precondition(built)) {
  // Blocks of 6-high planes span several images, and at 1 thread the blocks share one scratch:
  // NaN in image 2 (its last row and column too) must not reach the other images' tiles. 4 wide
  // runs F(2x2, 3x3), 6 wide F(4x4, 3x3) with gathers (lanes from several images), 26 wide
  // F(4x4, 3x3) by tile rows.
  Generator gen(44);
  for (const auto& [wd, path] :
       {std::pair<int64_t, const char*>{4, "winograd"}, {6, "winograd4"}, {26, "winograd4"}}) {
    const int64_t n = 40, c = 16, h = 6;
    Tensor x = randn({n, c, h, wd}, DType::f32, &gen), w = randn({c, c, 3, 3}, DType::f32, &gen);
    const int64_t per = c * h * wd;
    float* px = x.data<float>() + 2 * per;
    for (int64_t i = 0; i < per; ++i) px[i] = std::numeric_limits<float>::quiet_NaN();
    const Winograd on(true);
    const int saved = get_num_threads();
    set_num_threads(1);
    Tensor y = conv2d(x, w, Tensor(), kSame);
    BOOST_TEST(cpu::conv_path_name(cpu::last_conv_path()) == path);
    set_num_threads(saved);
    const auto v = y.to_vector<double>();
    size_t nan_in = 0, nan_out = 0;
    for (size_t i = 0; i < v.size(); ++i)
      (i / size_t(per) == 2 ? nan_in : nan_out) += std::isnan(v[i]);
    BOOST_TEST(nan_in == size_t(per), "width " << wd);
    BOOST_TEST(nan_out == 0u, "width " << wd);
  }
}
