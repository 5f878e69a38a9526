// conv2d against a direct-loop f64 reference; its two gradients through the adjoint identity
// ⟨conv2d(x, w), g⟩ = ⟨x, input_grad(g, w)⟩ = ⟨w, weight_grad(g, x)⟩; f32 against f64; strided
// inputs; error messages; thread-count behaviour. Upsampling and average pooling likewise.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/threads.h"

using namespace difflab::tensor;
using difflab::Error;

namespace {

struct ConvCase {
  const char* name;
  Shape xs, ws;
  Conv2dParams p;  // stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups
  bool bias;
};

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases{
      {"3x3 pad 1 bias", {2, 4, 7, 6}, {5, 4, 3, 3}, {1, 1, 1, 1, 1, 1, 1}, true},
      {"3x3 no pad", {2, 4, 7, 6}, {5, 4, 3, 3}, {1, 1, 0, 0, 1, 1, 1}, false},
      {"stride 2 pad 1 bias", {2, 3, 9, 8}, {4, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 1}, true},
      {"rect kernel, stride (2, 3), pad (0, 2)",
       {2, 3, 9, 10},
       {4, 3, 2, 3},
       {2, 3, 0, 2, 1, 1, 1},
       true},
      {"dilation 2 pad 2", {2, 3, 8, 8}, {4, 3, 3, 3}, {1, 1, 2, 2, 2, 2, 1}, false},
      {"dilation (2, 3) stride 2", {1, 3, 11, 12}, {2, 3, 3, 3}, {2, 2, 1, 0, 2, 3, 1}, true},
      {"groups 2 bias", {2, 6, 6, 6}, {4, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 2}, true},
      {"groups 3 stride 2", {1, 6, 7, 7}, {6, 2, 3, 3}, {2, 2, 1, 1, 1, 1, 3}, false},
      {"depthwise", {2, 4, 5, 5}, {8, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 4}, true},
      {"1x1 direct bias", {3, 8, 5, 4}, {6, 8, 1, 1}, {1, 1, 0, 0, 1, 1, 1}, true},
      {"1x1 direct groups 2", {2, 8, 3, 5}, {6, 4, 1, 1}, {1, 1, 0, 0, 1, 1, 2}, false},
      {"1x1 stride 2", {2, 8, 5, 5}, {6, 8, 1, 1}, {2, 2, 0, 0, 1, 1, 1}, false},
      {"1x1 pad 1", {2, 8, 4, 4}, {6, 8, 1, 1}, {1, 1, 1, 1, 1, 1, 1}, true},
      {"kernel as large as the input", {2, 2, 4, 4}, {3, 2, 4, 4}, {1, 1, 0, 0, 1, 1, 1}, true},
      {"pad larger than kernel", {1, 2, 3, 3}, {2, 2, 2, 2}, {1, 1, 3, 3, 1, 1, 1}, false},
      // Batches of 4 images or more take the image-parallel path (tensor/cpu/conv.cpp); 19
      // images make its weight gradient sum 16 parts of 1 or 2 images.
      {"image-parallel 3x3 pad 1 bias", {5, 4, 7, 6}, {5, 4, 3, 3}, {1, 1, 1, 1, 1, 1, 1}, true},
      {"image-parallel stride 2 groups 2", {6, 6, 9, 8}, {4, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 2},
       false},
      {"image-parallel 1x1 direct groups 2", {4, 8, 3, 5}, {6, 4, 1, 1}, {1, 1, 0, 0, 1, 1, 2},
       true},
      {"image-parallel 19 images", {19, 3, 5, 5}, {4, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 1}, true},
      // One f64 image's columns (64·9·64·64 doubles = 18.9 MB) exceed half of the 32 MiB
      // buffer, so the batch of 3 runs as 3 chunks.
      {"chunked batch", {3, 64, 64, 64}, {2, 64, 3, 3}, {1, 1, 1, 1, 1, 1, 1}, true},
  };
  return cases;
}

// Direct seven-loop convolution in f64.
Tensor reference_conv(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), Cg = w.size(1), kh = w.size(2), kw = w.size(3);
  const int64_t Og = O / p.groups;
  const int64_t Ho = (H + 2 * p.pad_h - p.dil_h * (kh - 1) - 1) / p.stride_h + 1;
  const int64_t Wo = (W + 2 * p.pad_w - p.dil_w * (kw - 1) - 1) / p.stride_w + 1;
  std::vector<double> out(size_t(N * O * Ho * Wo), 0.0);
  std::vector<double> bv = bias.defined() ? bias.to_vector<double>() : std::vector<double>(O, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double acc = bv[o];
          const int64_t grp = o / Og;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t ih = oh * p.stride_h - p.pad_h + i * p.dil_h;
                const int64_t iw = ow * p.stride_w - p.pad_w + j * p.dil_w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t ci = grp * Cg + c;
                acc += xv[((n * C + ci) * H + ih) * W + iw] * wv[((o * Cg + c) * kh + i) * kw + j];
              }
          out[((n * O + o) * Ho + oh) * Wo + ow] = acc;
        }
  return from_vector(out, {N, O, Ho, Wo});
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

// Max difference relative to the largest magnitude of the reference.
double rel_diff(const Tensor& a, const Tensor& ref) {
  return max_abs_diff(a, ref) / std::max(1e-30, max_abs(ref));
}

double dot(const Tensor& a, const Tensor& b) {
  return sum(binary(BinaryOp::mul, a.to(DType::f64), b.to(DType::f64)), {}).item();
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

Shape conv_out_shape(const ConvCase& c) {
  const auto& p = c.p;
  return {c.xs[0], c.ws[0], (c.xs[2] + 2 * p.pad_h - p.dil_h * (c.ws[2] - 1) - 1) / p.stride_h + 1,
          (c.xs[3] + 2 * p.pad_w - p.dil_w * (c.ws[3] - 1) - 1) / p.stride_w + 1};
}

// Predicate for BOOST_CHECK_EXCEPTION: the message contains every fragment.
auto mentions(std::vector<std::string> parts) {
  return [parts](const Error& e) {
    const std::string msg = e.what();
    bool ok = true;
    for (const auto& s : parts)
      if (msg.find(s) == std::string::npos) ok = false;
    if (!ok) BOOST_TEST_MESSAGE("unexpected message: " << msg);
    return ok;
  };
}

template <typename F>
std::pair<Tensor, Tensor> at_1_and_2_threads(F f) {
  const int saved = get_num_threads();
  set_num_threads(1);
  Tensor one = f();
  set_num_threads(2);
  Tensor two = f();
  set_num_threads(saved);
  return {one, two};
}

}  // namespace

BOOST_AUTO_TEST_CASE(conv2d_matches_direct_reference_f64) {
  Generator gen(11);
  for (const auto& c : conv_cases()) {
    Tensor x = randn(c.xs, DType::f64, &gen), w = randn(c.ws, DType::f64, &gen);
    Tensor b = c.bias ? randn({c.ws[0]}, DType::f64, &gen) : Tensor();
    Tensor y = conv2d(x, w, b, c.p);
    Tensor ref = reference_conv(x, w, b, c.p);
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(y.shape() == conv_out_shape(c));
      BOOST_TEST(y.shape() == ref.shape());
      BOOST_TEST(max_abs_diff(y, ref) <= 1e-12 * (1.0 + max_abs(ref)));
    }
  }
}

BOOST_AUTO_TEST_CASE(conv2d_gradients_satisfy_adjoint_identity) {
  Generator gen(12);
  for (const auto& c : conv_cases()) {
    Tensor x = randn(c.xs, DType::f64, &gen), w = randn(c.ws, DType::f64, &gen);
    Tensor g = randn(conv_out_shape(c), DType::f64, &gen);
    Tensor dx = conv2d_input_grad(g, w, c.xs, c.p);
    Tensor dw = conv2d_weight_grad(g, x, c.ws, c.p);
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(dx.shape() == c.xs);
      BOOST_TEST(dw.shape() == c.ws);
      const double lhs = dot(conv2d(x, w, Tensor(), c.p), g);
      const double tol = 1e-11 * (1.0 + std::abs(lhs)) * std::sqrt(double(g.numel()));
      BOOST_TEST(std::abs(dot(x, dx) - lhs) <= tol);
      BOOST_TEST(std::abs(dot(w, dw) - lhs) <= tol);
      // A second, independent probe: the identity must hold for other x and w too.
      Tensor x2 = randn(c.xs, DType::f64, &gen), w2 = randn(c.ws, DType::f64, &gen);
      BOOST_TEST(std::abs(dot(x2, dx) - dot(conv2d(x2, w, Tensor(), c.p), g)) <= tol);
      BOOST_TEST(std::abs(dot(w2, dw) - dot(conv2d(x, w2, Tensor(), c.p), g)) <= tol);
    }
  }
}

BOOST_AUTO_TEST_CASE(conv2d_f32_matches_f64) {
  Generator gen(13);
  for (const auto& c : conv_cases()) {
    Tensor x = randn(c.xs, DType::f64, &gen), w = randn(c.ws, DType::f64, &gen);
    Tensor b = c.bias ? randn({c.ws[0]}, DType::f64, &gen) : Tensor();
    Tensor g = randn(conv_out_shape(c), DType::f64, &gen);
    auto f32 = [](const Tensor& t) { return t.defined() ? t.to(DType::f32) : t; };
    Tensor y32 = conv2d(f32(x), f32(w), f32(b), c.p);
    Tensor dx32 = conv2d_input_grad(f32(g), f32(w), c.xs, c.p);
    Tensor dw32 = conv2d_weight_grad(f32(g), f32(x), c.ws, c.p);
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(y32.dtype() == DType::f32);
      BOOST_TEST(rel_diff(y32, conv2d(x, w, b, c.p)) <= 1e-5);
      BOOST_TEST(rel_diff(dx32, conv2d_input_grad(g, w, c.xs, c.p)) <= 1e-5);
      BOOST_TEST(rel_diff(dw32, conv2d_weight_grad(g, x, c.ws, c.p)) <= 1e-5);
    }
  }
}

BOOST_AUTO_TEST_CASE(conv2d_strided_inputs_give_the_same_bits) {
  Generator gen(14);
  const Conv2dParams p{2, 1, 1, 1, 1, 1, 2};
  // Non-contiguous views: H and W transposed, weight taps transposed, grad_out sliced.
  Tensor x = randn({2, 4, 9, 8}, DType::f32, &gen).transpose(2, 3);  // [2, 4, 8, 9]
  Tensor w = randn({6, 2, 3, 3}, DType::f32, &gen).transpose(2, 3);
  Tensor b = randn({12}, DType::f32, &gen).slice(0, 0, 12, 2);
  BOOST_REQUIRE(!x.is_contiguous() && !w.is_contiguous() && !b.is_contiguous());
  Tensor y = conv2d(x, w, b, p);
  BOOST_TEST(bit_equal(y, conv2d(x.contiguous(), w.contiguous(), b.contiguous(), p)));
  Tensor gbig = randn({2, 6, 4, 18}, DType::f32, &gen);
  Tensor g = gbig.slice(3, 0, 18, 2);
  BOOST_REQUIRE(g.shape() == y.shape() && !g.is_contiguous());
  BOOST_TEST(bit_equal(conv2d_input_grad(g, w, x.shape(), p),
                       conv2d_input_grad(g.contiguous(), w.contiguous(), x.shape(), p)));
  BOOST_TEST(bit_equal(conv2d_weight_grad(g, x, w.shape(), p),
                       conv2d_weight_grad(g.contiguous(), x.contiguous(), w.shape(), p)));
}

BOOST_AUTO_TEST_CASE(conv2d_errors_name_op_and_shapes) {
  Tensor x = zeros({2, 3, 8, 8}), w = zeros({4, 2, 3, 3});
  const Conv2dParams g2{1, 1, 0, 0, 1, 1, 2};
  BOOST_CHECK_EXCEPTION(conv2d(x, w, Tensor(), g2), Error,
                        mentions({"conv2d: input [2, 3, 8, 8] has 3 channels but weight "
                                  "[4, 2, 3, 3] expects 4 (groups 2)"}));
  BOOST_CHECK_EXCEPTION(conv2d(zeros({2, 4, 8, 8}), zeros({4, 3, 3, 3}), Tensor(), {}), Error,
                        mentions({"conv2d", "[2, 4, 8, 8]", "[4, 3, 3, 3]", "expects 3"}));
  BOOST_CHECK_EXCEPTION(conv2d(zeros({3, 8, 8}), w, Tensor(), {}), Error,
                        mentions({"conv2d", "4-D", "[3, 8, 8]"}));
  BOOST_CHECK_EXCEPTION(conv2d(zeros({2, 2, 8, 8}), zeros({4, 2, 3}), Tensor(), {}), Error,
                        mentions({"conv2d", "weight", "[4, 2, 3]"}));
  BOOST_CHECK_EXCEPTION(
      conv2d(zeros({2, 2, 8, 8}), zeros({4, 2, 3, 3}, DType::f64), Tensor(), {}), Error,
      mentions({"conv2d", "dtype", "f32", "f64", "[2, 2, 8, 8]", "[4, 2, 3, 3]"}));
  BOOST_CHECK_EXCEPTION(conv2d(zeros({2, 2, 8, 8}), zeros({4, 2, 3, 3}), zeros({3}), {}), Error,
                        mentions({"conv2d", "bias [3]", "[4, 2, 3, 3]"}));
  BOOST_CHECK_EXCEPTION(conv2d(zeros({2, 4, 8, 8}), zeros({3, 2, 3, 3}), Tensor(), g2), Error,
                        mentions({"conv2d", "[3, 2, 3, 3]", "groups 2"}));
  BOOST_CHECK_EXCEPTION(conv2d(zeros({1, 2, 2, 2}), zeros({1, 2, 3, 3}), Tensor(), {}), Error,
                        mentions({"conv2d", "[1, 2, 2, 2]", "[1, 2, 3, 3]", "smaller"}));
  BOOST_CHECK_EXCEPTION(
      conv2d(zeros({1, 2, 5, 5}), zeros({1, 2, 3, 3}), Tensor(), {0, 1, 0, 0, 1, 1, 1}), Error,
      mentions({"conv2d", "stride (0, 1)", "[1, 2, 5, 5]"}));
  BOOST_CHECK_EXCEPTION(
      conv2d(zeros({1, 2, 5, 5}, DType::i64), zeros({1, 2, 3, 3}, DType::i64), Tensor(), {}), Error,
      mentions({"conv2d", "i64", "[1, 2, 5, 5]"}));
  // The gradients check grad_out against the forward output shape.
  BOOST_CHECK_EXCEPTION(conv2d_input_grad(zeros({2, 4, 7, 7}), w, {2, 4, 8, 8}, g2), Error,
                        mentions({"conv2d_input_grad", "grad_out [2, 4, 7, 7]", "[2, 4, 6, 6]",
                                  "[2, 4, 8, 8]", "[4, 2, 3, 3]"}));
  BOOST_CHECK_EXCEPTION(conv2d_input_grad(zeros({2, 4, 6, 6}), w, {2, 3, 8, 8}, g2), Error,
                        mentions({"conv2d_input_grad", "[2, 3, 8, 8]", "[4, 2, 3, 3]"}));
  BOOST_CHECK_EXCEPTION(
      conv2d_weight_grad(zeros({2, 4, 6, 6}), zeros({2, 4, 8, 8}, DType::f64), {4, 2, 3, 3}, g2),
      Error, mentions({"conv2d_weight_grad", "dtype", "[2, 4, 6, 6]", "[2, 4, 8, 8]"}));
  BOOST_CHECK_EXCEPTION(
      conv2d_weight_grad(zeros({2, 4, 5, 6}), zeros({2, 4, 8, 8}), {4, 2, 3, 3}, g2), Error,
      mentions({"conv2d_weight_grad", "grad_out [2, 4, 5, 6]"}));
}

BOOST_AUTO_TEST_CASE(conv2d_threads_1_vs_2) {
  Generator gen(15);
  // Batch 2: large enough that each GEMM (32 x 1024 x 144) is tiled and im2col/col2im run on
  // both threads. Batch 6: the image-parallel path, whose weight gradient sums 6 parts.
  const Conv2dParams p{1, 1, 1, 1, 1, 1, 1};
  for (auto [dt, n] :
       {std::pair{DType::f32, 2}, {DType::f64, 2}, {DType::f32, 6}, {DType::f64, 6}}) {
    Tensor x = randn({n, 16, 32, 32}, dt, &gen), w = randn({32, 16, 3, 3}, dt, &gen);
    Tensor b = randn({32}, dt, &gen), g = randn({n, 32, 32, 32}, dt, &gen);
    const int saved = get_num_threads();
    set_num_threads(2);
    BOOST_TEST(bit_equal(conv2d(x, w, b, p), conv2d(x, w, b, p)),
               "conv2d differs between two runs at 2 threads");
    BOOST_TEST(
        bit_equal(conv2d_weight_grad(g, x, w.shape(), p), conv2d_weight_grad(g, x, w.shape(), p)),
        "conv2d_weight_grad differs between two runs at 2 threads");
    set_num_threads(saved);
    struct Op {
      const char* name;
      std::function<Tensor()> f;
    };
    const std::vector<Op> ops{
        {"conv2d", [&] { return conv2d(x, w, b, p); }},
        {"conv2d_input_grad", [&] { return conv2d_input_grad(g, w, x.shape(), p); }},
        {"conv2d_weight_grad", [&] { return conv2d_weight_grad(g, x, w.shape(), p); }},
    };
    for (const auto& op : ops) {
      auto [one, two] = at_1_and_2_threads(op.f);
      // The GEMM tiles by shape, not by thread count (tensor/cpu/gemm.h), so the bits agree;
      // tests/tensor_determinism.cpp covers more shapes and 3 threads.
      BOOST_TEST(bit_equal(one, two), op.name << " " << dt << " batch " << n
                                              << " differs between 1 and 2 threads by "
                                              << rel_diff(two, one));
    }
  }
}

// ---- upsampling and average pooling ----

BOOST_AUTO_TEST_CASE(upsample_nearest2d_values_and_adjoint) {
  Generator gen(21);
  for (int64_t s : {1, 2, 3}) {
    Tensor x = randn({2, 3, 4, 5}, DType::f64, &gen);
    Tensor y = upsample_nearest2d(x, s);
    BOOST_REQUIRE(y.shape() == (Shape{2, 3, 4 * s, 5 * s}));
    const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
    bool same = true;
    for (int64_t nc = 0; nc < 6; ++nc)
      for (int64_t h = 0; h < 4 * s; ++h)
        for (int64_t w = 0; w < 5 * s; ++w)
          same = same && yv[(nc * 4 * s + h) * 5 * s + w] == xv[(nc * 4 + h / s) * 5 + w / s];
    BOOST_TEST(same, "upsample_nearest2d scale " << s);
    Tensor g = randn(y.shape(), DType::f64, &gen);
    Tensor gx = upsample_nearest2d_backward(g, s);
    BOOST_REQUIRE(gx.shape() == x.shape());
    // Block sums directly.
    const auto gv = g.to_vector<double>(), gxv = gx.to_vector<double>();
    double err = 0;
    for (int64_t nc = 0; nc < 6; ++nc)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 5; ++w) {
          double acc = 0;
          for (int64_t i = 0; i < s; ++i)
            for (int64_t j = 0; j < s; ++j) acc += gv[(nc * 4 * s + h * s + i) * 5 * s + w * s + j];
          err = std::max(err, std::abs(acc - gxv[(nc * 4 + h) * 5 + w]));
        }
    BOOST_TEST(err <= 1e-12);
    BOOST_TEST(std::abs(dot(y, g) - dot(x, gx)) <= 1e-10);
  }
  // Non-contiguous input.
  Tensor xt = randn({2, 3, 5, 4}, DType::f32, &gen).transpose(2, 3);
  BOOST_TEST(bit_equal(upsample_nearest2d(xt, 2), upsample_nearest2d(xt.contiguous(), 2)));
}

BOOST_AUTO_TEST_CASE(avg_pool2d_values_and_adjoint) {
  Generator gen(22);
  struct P {
    int64_t k, s;
    Shape xs;
  };
  for (const P& c : {P{2, 2, {2, 3, 6, 6}}, P{3, 2, {2, 3, 7, 7}}, P{3, 2, {1, 2, 6, 9}},
                     P{3, 1, {1, 2, 5, 6}}, P{2, 3, {2, 2, 8, 7}}}) {
    Tensor x = randn(c.xs, DType::f64, &gen);
    Tensor y = avg_pool2d(x, c.k, c.s);
    const int64_t H = c.xs[2], W = c.xs[3], NC = c.xs[0] * c.xs[1];
    const int64_t Ho = (H - c.k) / c.s + 1, Wo = (W - c.k) / c.s + 1;
    BOOST_REQUIRE(y.shape() == (Shape{c.xs[0], c.xs[1], Ho, Wo}));
    const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
    double err = 0;
    for (int64_t nc = 0; nc < NC; ++nc)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double acc = 0;
          for (int64_t i = 0; i < c.k; ++i)
            for (int64_t j = 0; j < c.k; ++j) acc += xv[(nc * H + oh * c.s + i) * W + ow * c.s + j];
          err = std::max(err, std::abs(acc / double(c.k * c.k) - yv[(nc * Ho + oh) * Wo + ow]));
        }
    BOOST_TEST(err <= 1e-12, "avg_pool2d kernel " << c.k << " stride " << c.s);
    Tensor g = randn(y.shape(), DType::f64, &gen);
    Tensor gx = avg_pool2d_backward(g, c.xs, c.k, c.s);
    BOOST_REQUIRE(gx.shape() == c.xs);
    BOOST_TEST(std::abs(dot(y, g) - dot(x, gx)) <= 1e-10);
    Tensor x2 = randn(c.xs, DType::f64, &gen);
    BOOST_TEST(std::abs(dot(avg_pool2d(x2, c.k, c.s), g) - dot(x2, gx)) <= 1e-10);
    BOOST_TEST(rel_diff(avg_pool2d(x.to(DType::f32), c.k, c.s), y) <= 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(pool_errors_name_op_and_shapes) {
  BOOST_CHECK_EXCEPTION(avg_pool2d(zeros({2, 3, 2, 5}), 3, 1), Error,
                        mentions({"avg_pool2d", "[2, 3, 2, 5]", "kernel 3"}));
  BOOST_CHECK_EXCEPTION(avg_pool2d(zeros({3, 8, 8}), 2, 2), Error,
                        mentions({"avg_pool2d", "4-D", "[3, 8, 8]"}));
  BOOST_CHECK_EXCEPTION(avg_pool2d(zeros({1, 1, 8, 8}), 2, 0), Error,
                        mentions({"avg_pool2d", "stride 0"}));
  BOOST_CHECK_EXCEPTION(
      avg_pool2d_backward(zeros({1, 2, 3, 3}), {1, 2, 8, 8}, 2, 2), Error,
      mentions({"avg_pool2d_backward", "[1, 2, 3, 3]", "[1, 2, 4, 4]", "[1, 2, 8, 8]"}));
  BOOST_CHECK_EXCEPTION(upsample_nearest2d(zeros({1, 2, 3, 3}), 0), Error,
                        mentions({"upsample_nearest2d", "scale 0", "[1, 2, 3, 3]"}));
  BOOST_CHECK_EXCEPTION(upsample_nearest2d_backward(zeros({1, 2, 5, 6}), 2), Error,
                        mentions({"upsample_nearest2d_backward", "[1, 2, 5, 6]", "scale 2"}));
  BOOST_CHECK_EXCEPTION(upsample_nearest2d(zeros({4, 4}), 2), Error,
                        mentions({"upsample_nearest2d", "[4, 4]"}));
}

BOOST_AUTO_TEST_CASE(pool_bit_identical_across_threads) {
  Generator gen(23);
  Tensor x = randn({8, 16, 32, 32}, DType::f32, &gen);
  Tensor gy = randn({8, 16, 15, 15}, DType::f32, &gen);
  auto check = [&](const char* what, std::function<Tensor()> f) {
    auto [one, two] = at_1_and_2_threads(f);
    BOOST_TEST(bit_equal(one, two), what << " differs between 1 and 2 threads");
  };
  check("upsample_nearest2d", [&] { return upsample_nearest2d(x, 2); });
  check("upsample_nearest2d_backward", [&] { return upsample_nearest2d_backward(x, 2); });
  check("avg_pool2d", [&] { return avg_pool2d(x, 3, 2); });
  check("avg_pool2d_backward", [&] { return avg_pool2d_backward(gy, x.shape(), 3, 2); });
}
