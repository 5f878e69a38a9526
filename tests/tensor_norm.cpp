// group_norm / group_norm_silu / layer_norm / softmax / log_softmax kernels: forward against
// naive f64 references, the fused backward against the composed (create_graph) backward,
// numerical stability, error messages, and bit-identical results at 1 and 2 threads.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <string>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/threads.h"

namespace T = difflab::tensor;
namespace ag = difflab::ag;
using difflab::Error;
using T::DType;
using T::Shape;
using T::Tensor;

namespace {

std::vector<double> values(const Tensor& t) { return t.to(DType::f64).to_vector<double>(); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  std::vector<double> va = values(a), vb = values(b);
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

double max_abs(const Tensor& a) {
  double m = 0;
  for (double v : values(a)) m = std::max(m, std::abs(v));
  return m;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

// Naive f64 group norm on x viewed as [N, C, HW]: y, mean [N*G], rstd [N*G].
struct Ref {
  std::vector<double> y, mean, rstd;
};
Ref ref_group_norm(const std::vector<double>& x, int64_t N, int64_t C, int64_t HW, int64_t G,
                   const std::vector<double>& w, const std::vector<double>& b, double eps) {
  Ref r;
  r.y.resize(x.size());
  const int64_t cpg = C / G, D = cpg * HW;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g) {
      const double* p = x.data() + (n * C + g * cpg) * HW;
      double m = 0, v = 0;
      for (int64_t i = 0; i < D; ++i) m += p[i];
      m /= double(D);
      for (int64_t i = 0; i < D; ++i) v += (p[i] - m) * (p[i] - m);
      v /= double(D);
      const double rs = 1.0 / std::sqrt(v + eps);
      r.mean.push_back(m);
      r.rstd.push_back(rs);
      for (int64_t c = g * cpg; c < (g + 1) * cpg; ++c)
        for (int64_t i = 0; i < HW; ++i) {
          const int64_t k = (n * C + c) * HW + i;
          r.y[k] = (x[k] - m) * rs * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
        }
    }
  return r;
}

// Per-group mean and (biased) variance of y viewed as [N*G, D].
void group_moments(const std::vector<double>& y, int64_t rows, int64_t D, std::vector<double>& mean,
                   std::vector<double>& var) {
  mean.assign(size_t(rows), 0.0);
  var.assign(size_t(rows), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < D; ++i) mean[r] += y[r * D + i];
    mean[r] /= double(D);
    for (int64_t i = 0; i < D; ++i) var[r] += (y[r * D + i] - mean[r]) * (y[r * D + i] - mean[r]);
    var[r] /= double(D);
  }
}

template <typename F>
std::pair<std::vector<Tensor>, std::vector<Tensor>> at_1_and_2_threads(F f) {
  const int saved = T::get_num_threads();
  T::set_num_threads(1);
  std::vector<Tensor> one = f();
  T::set_num_threads(2);
  BOOST_REQUIRE_EQUAL(T::get_num_threads(), 2);
  std::vector<Tensor> two = f();
  T::set_num_threads(saved);
  return {one, two};
}

// Predicate for BOOST_CHECK_EXCEPTION: the message contains every fragment.
auto message_has(std::vector<std::string> fragments) {
  return [fragments](const Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments)
      if (msg.find(f) == std::string::npos) {
        BOOST_TEST_MESSAGE("message '" << msg << "' lacks '" << f << "'");
        return false;
      }
    return true;
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(norm)

BOOST_AUTO_TEST_CASE(group_norm_matches_reference) {
  struct Cfg {
    Shape shape;
    int64_t groups;
    bool affine;
  };
  for (const Cfg& cfg : {Cfg{{2, 6, 5, 5}, 3, true}, Cfg{{3, 4, 7}, 4, false},
                         Cfg{{2, 8, 3, 4}, 1, true}, Cfg{{1, 4, 2, 3, 2}, 2, true}}) {
    T::Generator gen(11);
    // Shifted and scaled: the statistics must not rely on centred data.
    Tensor x = T::affine(T::randn(cfg.shape, DType::f64, &gen), 2.0, 0.7);
    const int64_t N = cfg.shape[0], C = cfg.shape[1], HW = x.numel() / (N * C);
    Tensor w, b;
    if (cfg.affine) {
      w = T::randn({C}, DType::f64, &gen);
      b = T::randn({C}, DType::f64, &gen);
    }
    const double eps = 1e-5;
    T::NormOutput out = T::group_norm(x, cfg.groups, w, b, eps);
    Ref r = ref_group_norm(values(x), N, C, HW, cfg.groups,
                           w.defined() ? values(w) : std::vector<double>{},
                           b.defined() ? values(b) : std::vector<double>{}, eps);
    BOOST_TEST(out.mean.shape() == (Shape{N, cfg.groups}));
    BOOST_TEST(out.rstd.shape() == (Shape{N, cfg.groups}));
    BOOST_TEST(max_abs_diff(out.y, T::from_vector(r.y, x.shape())) < 1e-12);
    BOOST_TEST(max_abs_diff(out.mean, T::from_vector(r.mean, {N, cfg.groups})) < 1e-13);
    BOOST_TEST(max_abs_diff(out.rstd, T::from_vector(r.rstd, {N, cfg.groups})) < 1e-12);

    // A strided view of the same values gives the same result.
    Shape big = x.shape();
    big.back() *= 2;
    Tensor xs = T::zeros(big, DType::f64).slice(x.dim() - 1, 0, big.back(), 2);
    xs.copy_(x);
    BOOST_REQUIRE(!xs.is_contiguous());
    BOOST_TEST(bit_equal(T::group_norm(xs, cfg.groups, w, b, eps).y, out.y));

    // f32 agrees with the f64 reference to f32 precision.
    T::NormOutput o32 =
        T::group_norm(x.to(DType::f32), cfg.groups, w.defined() ? w.to(DType::f32) : Tensor(),
                      b.defined() ? b.to(DType::f32) : Tensor(), eps);
    BOOST_TEST(o32.y.dtype() == DType::f32);
    BOOST_TEST(max_abs_diff(o32.y, out.y) < 2e-5);
  }
}

// f32 planes are normalised in f32 arithmetic: centring on the mean rounded to f32 would be off
// by up to half an ulp of 1000 (3e-5), a hundredth of this spread, in every output. The
// backward kernels recompute the mean for the same reason (layer_norm's too).
BOOST_AUTO_TEST_CASE(f32_is_accurate_when_the_mean_dwarfs_the_spread) {
  T::Generator gen(13);
  const Tensor x32 =
      T::affine(T::randn({2, 8, 6, 6}, DType::f64, &gen), 0.01, 1000.0).to(DType::f32);
  const Tensor x = x32.to(DType::f64);  // the same values, exactly
  const Tensor w = T::randn({8}, DType::f64, &gen), b = T::randn({8}, DType::f64, &gen);
  const Tensor g = T::randn({2, 8, 6, 6}, DType::f64, &gen);
  auto f = [](const Tensor& t) { return t.to(DType::f32); };
  auto close = [](const Tensor& got, const Tensor& want) {
    return max_abs_diff(got, want) < 1e-5 * std::max(1.0, max_abs(want));
  };
  const T::NormOutput p64 = T::group_norm(x, 4, w, b, 1e-5);
  const T::NormOutput p32 = T::group_norm(x32, 4, f(w), f(b), 1e-5);
  BOOST_TEST(close(p32.y, p64.y));
  BOOST_TEST(close(T::group_norm_backward(f(g), x32, 4, p32.mean, p32.rstd, f(w))[0],
                   T::group_norm_backward(g, x, 4, p64.mean, p64.rstd, w)[0]));
  const T::NormOutput s64 = T::group_norm_silu(x, 4, w, b, 1e-5);
  const T::NormOutput s32 = T::group_norm_silu(x32, 4, f(w), f(b), 1e-5);
  BOOST_TEST(close(s32.y, s64.y));
  BOOST_TEST(close(T::group_norm_silu_backward(f(g), x32, 4, s32.mean, s32.rstd, f(w), f(b))[0],
                   T::group_norm_silu_backward(g, x, 4, s64.mean, s64.rstd, w, b)[0]));
  // layer_norm over the last two dims, the weight [6, 6].
  const Tensor lw = T::randn({6, 6}, DType::f64, &gen);
  const T::NormOutput l64 = T::layer_norm(x, 2, lw, Tensor(), 1e-5);
  const T::NormOutput l32 = T::layer_norm(x32, 2, f(lw), Tensor(), 1e-5);
  const std::vector<Tensor> dl64 = T::layer_norm_backward(g, x, 2, l64.mean, l64.rstd, lw);
  const std::vector<Tensor> dl32 = T::layer_norm_backward(f(g), x32, 2, l32.mean, l32.rstd, f(lw));
  for (int i = 0; i < 2; ++i) BOOST_TEST(close(dl32[i], dl64[i]), "layer_norm gradient " << i);
}

BOOST_AUTO_TEST_CASE(group_norm_normalises_each_group) {
  T::Generator gen(12);
  const int64_t N = 3, C = 6, G = 2, HW = 20;
  Tensor x = T::affine(T::randn({N, C, 4, 5}, DType::f64, &gen), 5.0, -3.0);
  T::NormOutput out = T::group_norm(x, G, Tensor(), Tensor(), 1e-12);
  std::vector<double> mean, var;
  group_moments(values(out.y), N * G, (C / G) * HW, mean, var);
  for (int64_t r = 0; r < N * G; ++r) {
    BOOST_TEST(std::abs(mean[r]) < 1e-13);
    BOOST_TEST(std::abs(var[r] - 1.0) < 1e-10);
  }
  // With a large mean in f32 the output is still centred to f32 precision.
  Tensor xb = T::affine(T::randn({N, C, 4, 5}, DType::f32, &gen), 1.0, 1e4);
  T::NormOutput ob = T::group_norm(xb, G, Tensor(), Tensor(), 1e-5);
  group_moments(values(ob.y), N * G, (C / G) * HW, mean, var);
  for (int64_t r = 0; r < N * G; ++r) {
    BOOST_TEST(std::abs(mean[r]) < 1e-2);
    BOOST_TEST(std::abs(var[r] - 1.0) < 2e-2);
  }
}

BOOST_AUTO_TEST_CASE(layer_norm_matches_reference) {
  T::Generator gen(13);
  Tensor x = T::affine(T::randn({2, 3, 5, 4}, DType::f64, &gen), 3.0, -1.5);
  for (int64_t k : {1, 2, 4}) {
    Shape trailing(x.shape().end() - k, x.shape().end());
    const int64_t D = T::shape_numel(trailing), rows = x.numel() / D;
    for (bool affine : {false, true}) {
      Tensor w, b;
      if (affine) {
        w = T::randn(trailing, DType::f64, &gen);
        b = T::randn(trailing, DType::f64, &gen);
      }
      const double eps = 1e-5;
      T::NormOutput out = T::layer_norm(x, k, w, b, eps);
      BOOST_TEST(out.mean.shape() == (Shape{rows}));
      // Layer norm over the trailing D elements is group norm of [rows, 1, D] with one group.
      Ref r = ref_group_norm(values(x), rows, 1, D, 1, {}, {}, eps);
      std::vector<double> y = r.y;
      if (affine) {
        std::vector<double> wv = values(w), bv = values(b);
        for (size_t i = 0; i < y.size(); ++i) y[i] = y[i] * wv[i % D] + bv[i % D];
      }
      BOOST_TEST(max_abs_diff(out.y, T::from_vector(y, x.shape())) < 1e-12);
      BOOST_TEST(max_abs_diff(out.mean, T::from_vector(r.mean, {rows})) < 1e-13);
      BOOST_TEST(max_abs_diff(out.rstd, T::from_vector(r.rstd, {rows})) < 1e-12);
      if (!affine) {
        std::vector<double> mean, var;
        T::NormOutput o0 = T::layer_norm(x, k, Tensor(), Tensor(), 1e-12);
        group_moments(values(o0.y), rows, D, mean, var);
        for (int64_t i = 0; i < rows; ++i) {
          BOOST_TEST(std::abs(mean[i]) < 1e-13);
          BOOST_TEST(std::abs(var[i] - 1.0) < 1e-10);
        }
      }
    }
  }
}

// The fused kernel (create_graph = false) and the composed Var formula (create_graph = true)
// must give the same first-order gradients.
BOOST_AUTO_TEST_CASE(fused_backward_equals_composed) {
  using Fn = std::function<ag::Var(const ag::Var&, const ag::Var&, const ag::Var&)>;
  struct Case {
    std::string name;
    Shape x, p;
    Fn f;
    bool has_w, has_b;
  };
  const std::vector<Case> cases = {
      {"group_norm affine",
       {3, 6, 4, 5},
       {6},
       [](auto& x, auto& w, auto& b) { return ag::group_norm(x, 3, w, b); },
       true,
       true},
      {"group_norm plain",
       {3, 6, 4, 5},
       {6},
       [](auto& x, auto&, auto&) { return ag::group_norm(x, 2); },
       false,
       false},
      {"group_norm weight only",
       {2, 4, 9},
       {4},
       [](auto& x, auto& w, auto&) { return ag::group_norm(x, 4, w); },
       true,
       false},
      {"group_norm bias only",
       {2, 4, 9},
       {4},
       [](auto& x, auto&, auto& b) { return ag::group_norm(x, 1, ag::Var(), b); },
       false,
       true},
      {"group_norm_silu affine",
       {3, 6, 4, 5},
       {6},
       [](auto& x, auto& w, auto& b) { return ag::group_norm_silu(x, 3, w, b); },
       true,
       true},
      {"group_norm_silu plain",
       {2, 4, 9},
       {4},
       [](auto& x, auto&, auto&) { return ag::group_norm_silu(x, 2); },
       false,
       false},
      {"group_norm_silu bias only",
       {2, 4, 9},
       {4},
       [](auto& x, auto&, auto& b) { return ag::group_norm_silu(x, 1, ag::Var(), b); },
       false,
       true},
      {"layer_norm affine last 1",
       {4, 3, 7},
       {7},
       [](auto& x, auto& w, auto& b) { return ag::layer_norm(x, 1, w, b); },
       true,
       true},
      {"layer_norm affine last 2",
       {4, 3, 7},
       {3, 7},
       [](auto& x, auto& w, auto& b) { return ag::layer_norm(x, 2, w, b); },
       true,
       true},
      {"layer_norm plain all dims",
       {4, 3, 7},
       {4, 3, 7},
       [](auto& x, auto&, auto&) { return ag::layer_norm(x, 3); },
       false,
       false},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      T::Generator gen(21);
      ag::Var x(T::affine(T::randn(c.x, DType::f64, &gen), 1.7, 0.4), true);
      ag::Var w(T::randn(c.p, DType::f64, &gen), true);
      ag::Var b(T::randn(c.p, DType::f64, &gen), true);
      std::vector<ag::Var> inputs{x};
      if (c.has_w) inputs.push_back(w);
      if (c.has_b) inputs.push_back(b);
      ag::Var y = c.f(x, c.has_w ? w : ag::Var(), c.has_b ? b : ag::Var());
      ag::Var gout(T::randn(y.shape(), DType::f64, &gen));
      std::vector<ag::Var> fused = ag::grad({y}, inputs, {gout}, false, false, true);
      std::vector<ag::Var> composed = ag::grad({y}, inputs, {gout}, true);
      BOOST_REQUIRE_EQUAL(fused.size(), composed.size());
      for (size_t i = 0; i < fused.size(); ++i) {
        // The composed path records a graph (that is what makes it differentiable again);
        // dx always depends on x.
        if (i == 0) BOOST_TEST(composed[i].requires_grad());
        BOOST_TEST(!fused[i].requires_grad());
        const double scale = std::max(1.0, max_abs(composed[i].value()));
        BOOST_TEST(max_abs_diff(fused[i].value(), composed[i].value()) < 1e-12 * scale,
                   "input " << i);
        BOOST_TEST(max_abs(fused[i].value()) > 1e-3, "input " << i << " gradient is trivially 0");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(fused_backward_matches_reference_in_f32) {
  // The f32 fused kernel agrees with the f64 one.
  T::Generator gen(22);
  Tensor x = T::randn({2, 8, 6, 6}, DType::f64, &gen);
  Tensor w = T::randn({8}, DType::f64, &gen);
  Tensor g = T::randn({2, 8, 6, 6}, DType::f64, &gen);
  T::NormOutput o64 = T::group_norm(x, 4, w, Tensor(), 1e-5);
  auto d64 = T::group_norm_backward(g, x, 4, o64.mean, o64.rstd, w);
  auto f = [](const Tensor& t) { return t.to(DType::f32); };
  T::NormOutput o32 = T::group_norm(f(x), 4, f(w), Tensor(), 1e-5);
  auto d32 = T::group_norm_backward(f(g), f(x), 4, o32.mean, o32.rstd, f(w));
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(d32[i].dtype() == DType::f32);
    BOOST_TEST(max_abs_diff(d32[i], d64[i]) < 1e-4 * std::max(1.0, max_abs(d64[i])));
  }
  // No weight: dweight and dbias are undefined.
  auto dn = T::group_norm_backward(g, x, 4, o64.mean, o64.rstd, Tensor());
  BOOST_TEST(dn[0].defined());
  BOOST_TEST(!dn[1].defined());
  BOOST_TEST(!dn[2].defined());
}

// group_norm_silu against silu(group_norm(x)) from the separate kernels, in both dtypes; its
// backward against the chain rule through them (the bias's gradient included).
BOOST_AUTO_TEST_CASE(group_norm_silu_equals_the_composition) {
  T::Generator gen(23);
  for (DType dt : {DType::f64, DType::f32}) {
    BOOST_TEST_CONTEXT(T::dtype_name(dt)) {
      const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
      Tensor x = T::affine(T::randn({3, 8, 5, 7}, dt, &gen), 2.0, 0.5);
      Tensor w = T::randn({8}, dt, &gen), b = T::randn({8}, dt, &gen);
      Tensor g = T::randn({3, 8, 5, 7}, dt, &gen);
      T::NormOutput plain = T::group_norm(x, 4, w, b, 1e-5);
      T::NormOutput fused = T::group_norm_silu(x, 4, w, b, 1e-5);
      const Tensor want = T::unary(T::UnaryOp::silu, plain.y);
      BOOST_TEST(max_abs_diff(fused.y, want) < tol * max_abs(want));
      BOOST_TEST(bit_equal(fused.mean, plain.mean));
      BOOST_TEST(bit_equal(fused.rstd, plain.rstd));
      const Tensor dh = T::binary(T::BinaryOp::mul, g, T::unary(T::UnaryOp::silu_grad, plain.y));
      std::vector<Tensor> ref = T::group_norm_backward(dh, x, 4, plain.mean, plain.rstd, w);
      std::vector<Tensor> got = T::group_norm_silu_backward(g, x, 4, fused.mean, fused.rstd, w, b);
      for (int i = 0; i < 3; ++i)
        BOOST_TEST(max_abs_diff(got[i], ref[i]) < tol * std::max(1.0, max_abs(ref[i])),
                   "gradient " << i);
      // Without parameters only dx is defined, and it is the chain rule's without them.
      T::NormOutput p0 = T::group_norm(x, 2, Tensor(), Tensor(), 1e-5);
      T::NormOutput f0 = T::group_norm_silu(x, 2, Tensor(), Tensor(), 1e-5);
      const Tensor dh0 = T::binary(T::BinaryOp::mul, g, T::unary(T::UnaryOp::silu_grad, p0.y));
      std::vector<Tensor> got0 =
          T::group_norm_silu_backward(g, x, 2, f0.mean, f0.rstd, Tensor(), Tensor());
      const Tensor ref0 = T::group_norm_backward(dh0, x, 2, p0.mean, p0.rstd, Tensor())[0];
      BOOST_TEST(max_abs_diff(got0[0], ref0) < tol * std::max(1.0, max_abs(ref0)));
      BOOST_TEST(!got0[1].defined());
      BOOST_TEST(!got0[2].defined());
    }
  }
}

BOOST_AUTO_TEST_CASE(softmax_rows_sum_to_one) {
  T::Generator gen(31);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = T::affine(T::randn({3, 4, 5}, dt, &gen), 3.0, 0.0);
    for (int64_t d : {0, 1, -1, 2}) {
      Tensor y = T::softmax(x, d);
      BOOST_TEST(y.dtype() == dt);
      const double tol = dt == DType::f32 ? 1e-6 : 1e-14;
      Tensor s = T::sum(y, {d});
      for (double v : values(s)) BOOST_TEST(std::abs(v - 1.0) < tol);
      for (double v : values(y)) BOOST_TEST((v > 0.0 && v < 1.0));
      // Against exp(x) / Σ exp(x) (safe at this magnitude).
      Tensor e = T::unary(T::UnaryOp::exp, x.to(DType::f64));
      Tensor ref = T::binary(T::BinaryOp::div, e, T::sum(e, {d}, true));
      BOOST_TEST(max_abs_diff(y, ref) < (dt == DType::f32 ? 1e-6 : 1e-15));
    }
  }
  // A strided input and a 0-d input.
  Tensor x = T::randn({4, 6}, DType::f64, &gen);
  BOOST_TEST(
      bit_equal(T::softmax(x.transpose(0, 1), 1), T::softmax(x.transpose(0, 1).contiguous(), 1)));
  BOOST_TEST(T::softmax(T::scalar_tensor(3.0, DType::f64), 0).item() == 1.0);
}

BOOST_AUTO_TEST_CASE(softmax_is_stable_for_large_inputs) {
  T::Generator gen(32);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = T::affine(T::randn({4, 3, 50}, dt, &gen), 1e4, 0.0);
    for (int64_t d : {-1, 1, 0}) {
      Tensor y = T::softmax(x, d);
      for (double v : values(y)) BOOST_TEST(std::isfinite(v));
      for (double v : values(T::sum(y, {d}))) BOOST_TEST(std::abs(v - 1.0) < 1e-6);
      // Gaps of order 1e4 put all the mass on the maximum.
      for (double v : values(T::amax(y, d))) BOOST_TEST(v > 0.999);
      Tensor ly = T::log_softmax(x, d);
      for (double v : values(ly)) BOOST_TEST(std::isfinite(v));
      // log_softmax = x − max − log Σ exp(x − max), with the largest entry ≈ 0.
      for (double v : values(T::amax(ly, d))) BOOST_TEST(std::abs(v) < 1e-3);
    }
    // Shift invariance at 1e4 offsets.
    Tensor small = T::randn({5, 7}, dt, &gen);
    Tensor shifted = T::affine(small, 1.0, 1e4);
    BOOST_TEST(max_abs_diff(T::softmax(shifted, 1), T::softmax(small, 1)) <
               (dt == DType::f32 ? 1e-2 : 1e-10));
    BOOST_TEST(max_abs_diff(T::softmax(T::affine(small, 1.0, -1e4), 0), T::softmax(small, 0)) <
               (dt == DType::f32 ? 1e-2 : 1e-10));
  }
}

BOOST_AUTO_TEST_CASE(log_softmax_is_log_of_softmax) {
  T::Generator gen(33);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = T::affine(T::randn({3, 4, 5}, dt, &gen), 4.0, 1.0);
    for (int64_t d : {0, 1, -1}) {
      Tensor a = T::log_softmax(x, d);
      Tensor b = T::unary(T::UnaryOp::log, T::softmax(x, d));
      BOOST_TEST(max_abs_diff(a, b) < (dt == DType::f32 ? 2e-5 : 1e-12));
      Tensor ref =
          T::binary(T::BinaryOp::sub, x.to(DType::f64), T::logsumexp(x.to(DType::f64), {d}, true));
      BOOST_TEST(max_abs_diff(a, ref) < (dt == DType::f32 ? 1e-5 : 1e-13));
    }
  }
}

BOOST_AUTO_TEST_CASE(error_messages) {
  Tensor x = T::zeros({2, 6, 4, 4}, DType::f32);
  BOOST_CHECK_EXCEPTION(
      T::group_norm(x, 4, Tensor(), Tensor(), 1e-5), Error,
      message_has({"group_norm", "[2, 6, 4, 4]", "6 channels", "not divisible by 4 groups"}));
  BOOST_CHECK_EXCEPTION(T::group_norm(x, 0, Tensor(), Tensor(), 1e-5), Error,
                        message_has({"group_norm", "groups must be positive"}));
  BOOST_CHECK_EXCEPTION(T::group_norm(x, 3, T::ones({5}), Tensor(), 1e-5), Error,
                        message_has({"group_norm", "weight [5]", "[2, 6, 4, 4]", "[6]"}));
  BOOST_CHECK_EXCEPTION(T::group_norm(x, 3, T::ones({6}), T::ones({6, 1}), 1e-5), Error,
                        message_has({"group_norm", "bias [6, 1]"}));
  BOOST_CHECK_EXCEPTION(T::group_norm(x, 3, T::ones({6}, DType::f64), Tensor(), 1e-5), Error,
                        message_has({"group_norm", "weight has dtype f64", "input has dtype f32"}));
  BOOST_CHECK_EXCEPTION(T::group_norm(T::zeros({6}), 3, Tensor(), Tensor(), 1e-5), Error,
                        message_has({"group_norm", "[N, C, *]", "[6]"}));
  BOOST_CHECK_EXCEPTION(T::group_norm(T::zeros({2, 6}, DType::i64), 3, Tensor(), Tensor(), 1e-5),
                        Error, message_has({"group_norm", "f32 or f64", "i64"}));
  BOOST_CHECK_EXCEPTION(T::group_norm_silu(x, 3, T::ones({6}), T::ones({5}), 1e-5), Error,
                        message_has({"group_norm_silu", "bias [5]", "[6]"}));
  T::NormOutput o = T::group_norm(x, 3, Tensor(), Tensor(), 1e-5);
  BOOST_CHECK_EXCEPTION(T::group_norm_silu_backward(x, x, 2, o.mean, o.rstd, Tensor(), Tensor()),
                        Error, message_has({"group_norm_silu_backward", "mean [2, 3]", "[2, 2]"}));
  BOOST_CHECK_EXCEPTION(T::group_norm_backward(x, x, 3, o.mean.reshape({6}), o.rstd, Tensor()),
                        Error, message_has({"group_norm_backward", "mean [6]", "[2, 3]"}));
  BOOST_CHECK_EXCEPTION(T::group_norm_backward(T::zeros({2, 6, 4}), x, 3, o.mean, o.rstd, Tensor()),
                        Error,
                        message_has({"group_norm_backward", "grad_out [2, 6, 4]", "[2, 6, 4, 4]"}));

  Tensor z = T::zeros({2, 3}, DType::f64);
  BOOST_CHECK_EXCEPTION(T::layer_norm(z, 3, Tensor(), Tensor(), 1e-5), Error,
                        message_has({"layer_norm", "last 3 dims", "[2, 3]", "rank 2"}));
  BOOST_CHECK_EXCEPTION(T::layer_norm(z, 0, Tensor(), Tensor(), 1e-5), Error,
                        message_has({"layer_norm", "last 0 dims"}));
  BOOST_CHECK_EXCEPTION(T::layer_norm(z, 1, T::ones({2}, DType::f64), Tensor(), 1e-5), Error,
                        message_has({"layer_norm", "weight [2]", "[2, 3]", "expected [3]"}));
  BOOST_CHECK_EXCEPTION(T::softmax(z, 2), Error, message_has({"softmax"}));
  BOOST_CHECK_EXCEPTION(T::log_softmax(T::zeros({3}, DType::u8), 0), Error,
                        message_has({"log_softmax", "u8"}));
  // The Var API reports through the same checks.
  BOOST_CHECK_EXCEPTION(ag::group_norm(ag::Var(x, true), 5), Error,
                        message_has({"group_norm", "not divisible by 5 groups"}));
}

BOOST_AUTO_TEST_CASE(bit_identical_across_thread_counts) {
  T::Generator gen(41);
  // 4·64·32·32 = 262144 elements, 32 (sample, group) rows: well above the parallel grain.
  Tensor x = T::affine(T::randn({4, 64, 32, 32}, DType::f32, &gen), 1.5, 0.3);
  Tensor w = T::randn({64}, DType::f32, &gen);
  Tensor b = T::randn({64}, DType::f32, &gen);
  Tensor g = T::randn({4, 64, 32, 32}, DType::f32, &gen);
  auto check = [](const char* what, auto f) {
    auto [one, two] = at_1_and_2_threads(f);
    BOOST_REQUIRE_EQUAL(one.size(), two.size());
    for (size_t i = 0; i < one.size(); ++i)
      BOOST_TEST(bit_equal(one[i], two[i]), what << " output " << i << " differs");
  };
  check("group_norm forward", [&] {
    T::NormOutput o = T::group_norm(x, 8, w, b, 1e-5);
    return std::vector<Tensor>{o.y, o.mean, o.rstd};
  });
  check("group_norm fused backward", [&] {
    T::NormOutput o = T::group_norm(x, 8, w, b, 1e-5);
    return T::group_norm_backward(g, x, 8, o.mean, o.rstd, w);
  });
  check("group_norm_silu forward and fused backward", [&] {
    T::NormOutput o = T::group_norm_silu(x, 8, w, b, 1e-5);
    std::vector<Tensor> d = T::group_norm_silu_backward(g, x, 8, o.mean, o.rstd, w, b);
    return std::vector<Tensor>{o.y, o.mean, o.rstd, d[0], d[1], d[2]};
  });
  Tensor x2 = x.reshape({256, 1024}), g2 = g.reshape({256, 1024});
  Tensor w2 = T::randn({1024}, DType::f32, &gen);
  check("layer_norm forward and fused backward", [&] {
    T::NormOutput o = T::layer_norm(x2, 1, w2, w2, 1e-5);
    std::vector<Tensor> d = T::layer_norm_backward(g2, x2, 1, o.mean, o.rstd, w2);
    return std::vector<Tensor>{o.y, o.mean, o.rstd, d[0], d[1], d[2]};
  });
  check("softmax and log_softmax", [&] {
    return std::vector<Tensor>{T::softmax(x, -1), T::softmax(x, 1), T::log_softmax(x, -1),
                               T::log_softmax(x, 0)};
  });
}

BOOST_AUTO_TEST_SUITE_END()
