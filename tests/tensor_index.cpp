// Forward checks for joining, indexing, sorting, cumulative sums, pairwise distances and
// dropout: hand-computed small cases, naive references, thread-count independence and error
// messages.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/threads.h"

using namespace difflab;
using namespace difflab::tensor;

namespace {

Tensor f32(const std::vector<float>& v, const Shape& s) { return from_vector<float>(v, s); }
Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector<double>(v, s); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return from_vector<int64_t>(v, s); }

// Predicate for BOOST_CHECK_EXCEPTION: the message contains every part.
auto has_message(std::vector<std::string> parts) {
  return [parts](const difflab::Error& e) {
    const std::string m = e.what();
    for (const auto& p : parts) {
      if (m.find(p) == std::string::npos) {
        BOOST_TEST_MESSAGE("message '" << m << "' lacks '" << p << "'");
        return false;
      }
    }
    return true;
  };
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ac = a.contiguous(), bc = b.contiguous();
  return std::memcmp(ac.raw_data(), bc.raw_data(), ac.nbytes()) == 0;
}

// Restores the thread count after a test changes it.
struct ThreadGuard {
  int prev = get_num_threads();
  ~ThreadGuard() { set_num_threads(prev); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(cat_values) {
  Tensor a = f32({1, 2, 3, 4}, {2, 2}), b = f32({5, 6}, {1, 2}), c = f32({7, 8, 9, 10}, {2, 2});
  Tensor y0 = cat({a, b, c}, 0);
  BOOST_TEST(y0.shape() == Shape({5, 2}));
  BOOST_TEST(y0.to_vector<float>() == std::vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
             boost::test_tools::per_element());
  Tensor y1 = cat({a, c.transpose(0, 1), a}, -1);  // a strided input
  BOOST_TEST(y1.shape() == Shape({2, 6}));
  BOOST_TEST(y1.to_vector<float>() == std::vector<float>({1, 2, 7, 9, 1, 2, 3, 4, 8, 10, 3, 4}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stack_values) {
  Tensor a = f32({1, 2, 3}, {3}), b = f32({4, 5, 6}, {3});
  Tensor s0 = stack({a, b}, 0), s1 = stack({a, b}, -1);
  BOOST_TEST(s0.shape() == Shape({2, 3}));
  BOOST_TEST(s0.to_vector<float>() == std::vector<float>({1, 2, 3, 4, 5, 6}),
             boost::test_tools::per_element());
  BOOST_TEST(s1.shape() == Shape({3, 2}));
  BOOST_TEST(s1.to_vector<float>() == std::vector<float>({1, 4, 2, 5, 3, 6}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(index_select_values) {
  Tensor x = f32({0, 1, 2, 10, 11, 12, 20, 21, 22}, {3, 3});
  Tensor r = index_select(x, 0, i64({2, 0, 2}, {3}));
  BOOST_TEST(r.to_vector<float>() == std::vector<float>({20, 21, 22, 0, 1, 2, 20, 21, 22}),
             boost::test_tools::per_element());
  Tensor c = index_select(x.transpose(0, 1), 1, i64({1, 1}, {2}));  // strided input
  BOOST_TEST(c.shape() == Shape({3, 2}));
  BOOST_TEST(c.to_vector<float>() == std::vector<float>({10, 10, 11, 11, 12, 12}),
             boost::test_tools::per_element());
  Tensor ii = index_select(i64({5, 6, 7}, {3}), 0, i64({2, 2, 0}, {3}));  // any dtype
  BOOST_TEST(ii.to_vector<int64_t>() == std::vector<int64_t>({7, 7, 5}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(gather_scatter_values) {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor g = gather(x, 1, i64({2, 0, 0, 1, 1, 1}, {2, 3}));
  BOOST_TEST(g.to_vector<double>() == std::vector<double>({3, 1, 1, 5, 5, 5}),
             boost::test_tools::per_element());
  Tensor g0 = gather(x, 0, i64({1, 0}, {1, 2}));  // index smaller than x outside dim 0
  BOOST_TEST(g0.to_vector<double>() == std::vector<double>({4, 2}),
             boost::test_tools::per_element());

  Tensor base = f64({1, 1, 1, 1, 1, 1}, {2, 3});
  Tensor src = f64({10, 20, 30, 40, 50, 60, 70, 80}, {2, 4});
  // Row 0 adds 10+30 at 2, 20 at 0, 40 at 1; row 1 adds 50+60+70 at 1 and 80 at 0.
  Tensor s = scatter_add(base, 1, i64({2, 0, 2, 1, 1, 1, 1, 0}, {2, 4}), src);
  BOOST_TEST(s.to_vector<double>() == std::vector<double>({21, 41, 41, 81, 181, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(base.to_vector<double>() == std::vector<double>(6, 1.0),
             boost::test_tools::per_element());  // base itself is untouched
  // Index smaller than src: only the covered part of src is added.
  Tensor s0 = scatter_add(zeros({3, 2}, DType::f64), 0, i64({2, 2}, {1, 2}), src.slice(1, 0, 2));
  BOOST_TEST(s0.to_vector<double>() == std::vector<double>({0, 0, 0, 0, 10, 20}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(index_add_and_embedding_values) {
  Tensor src = f32({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  Tensor a = index_add(src, 0, i64({2, 0, 2, 0}, {4}), 3);
  BOOST_TEST(a.shape() == Shape({3, 2}));
  BOOST_TEST(a.to_vector<float>() == std::vector<float>({10, 12, 0, 0, 6, 8}),
             boost::test_tools::per_element());
  Tensor a1 = index_add(src, 1, i64({1, 1}, {2}), 2);
  BOOST_TEST(a1.to_vector<float>() == std::vector<float>({0, 3, 0, 7, 0, 11, 0, 15}),
             boost::test_tools::per_element());

  Tensor w = f32({0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor e = embedding(w, i64({2, 0, 1, 2}, {2, 2}));
  BOOST_TEST(e.shape() == Shape({2, 2, 2}));
  BOOST_TEST(e.to_vector<float>() == std::vector<float>({20, 21, 0, 1, 10, 11, 20, 21}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(one_hot_values) {
  Tensor h = one_hot(i64({2, 0, 1, 2}, {2, 2}), 3);
  BOOST_TEST(h.shape() == Shape({2, 2, 3}));
  BOOST_TEST(h.dtype() == DType::f32);
  BOOST_TEST(h.to_vector<float>() == std::vector<float>({0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}),
             boost::test_tools::per_element());
  Tensor hi = one_hot(i64({3, 1}, {2}), -1, DType::i64);  // classes inferred: 4
  BOOST_TEST(hi.shape() == Shape({2, 4}));
  BOOST_TEST(hi.to_vector<int64_t>() == std::vector<int64_t>({0, 0, 0, 1, 0, 1, 0, 0}),
             boost::test_tools::per_element());
  BOOST_CHECK_EXCEPTION(one_hot(i64({0, 3}, {2}), 3), difflab::Error,
                        has_message({"one_hot", "index 3", "valid range [0, 2]"}));
}

BOOST_AUTO_TEST_CASE(sort_stable_with_ties) {
  Tensor x = f32({3, 1, 2, 1, 3, 1}, {6});
  auto [v, i] = sort(x, 0);
  BOOST_TEST(v.to_vector<float>() == std::vector<float>({1, 1, 1, 2, 3, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(i.dtype() == DType::i64);
  BOOST_TEST(i.to_vector<int64_t>() == std::vector<int64_t>({1, 3, 5, 2, 0, 4}),
             boost::test_tools::per_element());
  auto [vd, id] = sort(x, 0, true);
  BOOST_TEST(vd.to_vector<float>() == std::vector<float>({3, 3, 2, 1, 1, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(id.to_vector<int64_t>() == std::vector<int64_t>({0, 4, 2, 1, 3, 5}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sort_along_dims) {
  // Columns sorted along dim 0, descending; the input is a transposed (strided) view.
  Tensor x = f64({5, 1, 4, 2, 8, 0, 3, 7, 6}, {3, 3}).transpose(0, 1);  // [[5,2,3],[1,8,7],[4,0,6]]
  auto [v, i] = sort(x, 0, true);
  BOOST_TEST(v.to_vector<double>() == std::vector<double>({5, 8, 7, 4, 2, 6, 1, 0, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(i.to_vector<int64_t>() == std::vector<int64_t>({0, 1, 1, 2, 0, 2, 1, 2, 0}),
             boost::test_tools::per_element());
  auto [v1, i1] = sort(x, -1);
  BOOST_TEST(v1.to_vector<double>() == std::vector<double>({2, 3, 5, 1, 7, 8, 0, 4, 6}),
             boost::test_tools::per_element());
  BOOST_TEST(i1.to_vector<int64_t>() == std::vector<int64_t>({1, 2, 0, 0, 2, 1, 1, 0, 2}),
             boost::test_tools::per_element());
  // NaN sorts last ascending, first descending.
  Tensor n = f32({2, NAN, -1}, {3});
  BOOST_TEST(sort(n, 0).second.to_vector<int64_t>() == std::vector<int64_t>({2, 0, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(sort(n, 0, true).second.to_vector<int64_t>() == std::vector<int64_t>({1, 0, 2}),
             boost::test_tools::per_element());
  // Large random rows sort correctly and the values match the indices.
  Generator gen(3);
  Tensor r = randn({7, 5000}, DType::f32, &gen);
  auto [rv, ri] = sort(r, 1);
  auto vals = rv.to_vector<float>();
  auto src = r.to_vector<float>();
  auto idx = ri.to_vector<int64_t>();
  bool sorted = true, consistent = true;
  for (int64_t row = 0; row < 7; ++row)
    for (int64_t k = 0; k < 5000; ++k) {
      const int64_t p = row * 5000 + k;
      if (k > 0 && vals[p - 1] > vals[p]) sorted = false;
      if (vals[p] != src[row * 5000 + idx[p]]) consistent = false;
    }
  BOOST_TEST(sorted);
  BOOST_TEST(consistent);
}

BOOST_AUTO_TEST_CASE(cumsum_matches_serial_reference) {
  Generator gen(11);
  Tensor x = randn({6, 300, 5}, DType::f32, &gen);
  auto xv = x.to_vector<float>();
  const Shape s = x.shape();
  for (int64_t d = 0; d < 3; ++d) {
    for (bool rev : {false, true}) {
      Tensor y = rev ? cumsum_reverse(x, d) : cumsum(x, d - 3);
      auto yv = y.to_vector<float>();
      // Serial reference: accumulate each line in double, in order, and round once.
      int64_t outer = 1, inner = 1;
      for (int64_t j = 0; j < d; ++j) outer *= s[j];
      for (int64_t j = d + 1; j < 3; ++j) inner *= s[j];
      const int64_t n = s[d];
      bool same = true;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          double acc = 0;
          for (int64_t kk = 0; kk < n; ++kk) {
            const int64_t k = rev ? n - 1 - kk : kk;
            const int64_t p = (o * n + k) * inner + i;
            acc += double(xv[p]);
            if (yv[p] != float(acc)) same = false;
          }
        }
      BOOST_TEST(same, "cumsum dim " << d << (rev ? " reverse" : ""));
    }
  }
  Tensor small = cumsum(f64({1, 2, 3, 4, 5, 6}, {2, 3}), 1);
  BOOST_TEST(small.to_vector<double>() == std::vector<double>({1, 3, 6, 4, 9, 15}),
             boost::test_tools::per_element());
  Tensor small_r = cumsum_reverse(f64({1, 2, 3, 4, 5, 6}, {2, 3}), 0);
  BOOST_TEST(small_r.to_vector<double>() == std::vector<double>({5, 7, 9, 4, 5, 6}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cdist2_matches_naive_reference) {
  Generator gen(5);
  // Sizes not multiples of the 8-row or 64-row tiles or the lanes; batch dims broadcast. D = 13
  // takes the transposed-tile path, D = 150 the lane-summed one.
  for (int64_t D : {13, 150}) {
    Tensor a = randn({2, 1, 70, D}, DType::f64, &gen);
    Tensor b = randn({3, 67, D}, DType::f64, &gen);
    Tensor d = cdist2(a, b);
    BOOST_TEST(d.shape() == Shape({2, 3, 70, 67}));
    auto av = a.to_vector<double>(), bv = b.to_vector<double>(), dv = d.to_vector<double>();
    double max_rel = 0;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t n = 0; n < 70; ++n)
          for (int64_t m = 0; m < 67; ++m) {
            double ref = 0;
            for (int64_t k = 0; k < D; ++k) {
              double t = av[(i * 70 + n) * D + k] - bv[(j * 67 + m) * D + k];
              ref += t * t;
            }
            max_rel = std::max(max_rel, std::abs(ref - dv[((i * 3 + j) * 70 + n) * 67 + m]) / ref);
          }
    BOOST_TEST(max_rel < 1e-13, "D " << D << " max relative error " << max_rel);
  }
  // f32, strided a (transposed storage).
  Tensor af = randn({9, 5}, DType::f32, &gen);
  Tensor at = af.transpose(0, 1).contiguous().transpose(0, 1);
  Tensor bf = f32({0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, {2, 5});
  Tensor df = cdist2(at, bf);
  auto afv = af.to_vector<float>(), dfv = df.to_vector<float>();
  for (int64_t n = 0; n < 9; ++n) {
    double r0 = 0, r1 = 0;
    for (int64_t k = 0; k < 5; ++k) {
      r0 += double(afv[n * 5 + k]) * afv[n * 5 + k];
      r1 += (afv[n * 5 + k] - 1.0) * (afv[n * 5 + k] - 1.0);
    }
    BOOST_TEST(std::abs(dfv[n * 2] - r0) < 1e-5 * (1 + r0));
    BOOST_TEST(std::abs(dfv[n * 2 + 1] - r1) < 1e-5 * (1 + r1));
  }
}

BOOST_AUTO_TEST_CASE(cdist2_identical_points_never_negative) {
  Generator gen(8);
  // Large offset: ‖a‖² + ‖b‖² − 2ab would cancel badly here; the distances must stay >= 0 and the
  // self-distances exactly 0 (both kernel paths).
  for (int64_t D : {37, 200}) {
    Tensor x = affine(randn({100, D}, DType::f32, &gen), 1e-3, 1e4);
    Tensor d = cdist2(x, x);
    auto dv = d.to_vector<float>();
    bool nonneg = true, zero_diag = true;
    for (int64_t n = 0; n < 100; ++n)
      for (int64_t m = 0; m < 100; ++m) {
        if (!(dv[n * 100 + m] >= 0.0f)) nonneg = false;
        if (n == m && dv[n * 100 + m] != 0.0f) zero_diag = false;
      }
    BOOST_TEST(nonneg, "D " << D);
    BOOST_TEST(zero_diag, "D " << D);
  }
}

BOOST_AUTO_TEST_CASE(cdist2_thread_count_independent) {
  ThreadGuard guard;
  Generator gen(9);
  for (int64_t D : {5, 300}) {
    Tensor a = randn({300, D}, DType::f32, &gen), b = randn({200, D}, DType::f32, &gen);
    set_num_threads(1);
    Tensor d1 = cdist2(a, b);
    // A row's distances do not depend on where the row falls in a tile.
    Tensor d_sub = cdist2(a.slice(0, 3, 300), b.slice(0, 5, 200));
    set_num_threads(2);
    Tensor d2 = cdist2(a, b);
    BOOST_TEST(bit_equal(d1, d2), "D " << D);
    BOOST_TEST(bit_equal(d1.slice(0, 3, 300).slice(1, 5, 200), d_sub), "D " << D);
  }
}

BOOST_AUTO_TEST_CASE(scatter_add_index_add_thread_count_independent) {
  ThreadGuard guard;
  Generator gen(21);
  // Scatter along dim 0: 1000 lines of 3000 repeated indices each.
  Tensor base = randn({100, 1000}, DType::f32, &gen);
  Tensor src = randn({3000, 1000}, DType::f32, &gen);
  Tensor idx = randint(0, 100, {3000, 1000}, &gen);
  // Scatter along dim 1 (the contiguous one).
  Tensor base1 = randn({64, 300}, DType::f32, &gen);
  Tensor src1 = randn({64, 20000}, DType::f32, &gen);
  Tensor idx1 = randint(0, 300, {64, 20000}, &gen);
  Tensor isrc = randn({3000, 700}, DType::f32, &gen);
  Tensor iidx = randint(0, 50, {3000}, &gen);

  set_num_threads(1);
  Tensor s_1 = scatter_add(base, 0, idx, src);
  Tensor t_1 = scatter_add(base1, 1, idx1, src1);
  Tensor a_1 = index_add(isrc, 0, iidx, 50);
  set_num_threads(2);
  Tensor s_2 = scatter_add(base, 0, idx, src);
  Tensor t_2 = scatter_add(base1, 1, idx1, src1);
  Tensor a_2 = index_add(isrc, 0, iidx, 50);
  BOOST_TEST(bit_equal(s_1, s_2));
  BOOST_TEST(bit_equal(t_1, t_2));
  BOOST_TEST(bit_equal(a_1, a_2));

  // And equal to a serial float loop in index order.
  auto ref = base1.to_vector<float>();
  auto sv = src1.to_vector<float>();
  auto iv = idx1.to_vector<int64_t>();
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < 20000; ++j) ref[i * 300 + iv[i * 20000 + j]] += sv[i * 20000 + j];
  BOOST_TEST(bit_equal(t_2, from_vector<float>(ref, {64, 300})));
}

BOOST_AUTO_TEST_CASE(dropout_statistics) {
  const int64_t n = 100000;
  const double p = 0.3;
  Generator gen(99);
  Tensor x = ones({n}, DType::f32);
  ag::Var y = ag::dropout(ag::Var(x), p, true, &gen);
  auto yv = y.value().to_vector<float>();
  const float scale = float(1.0 / (1.0 - p));
  int64_t kept = 0, bad = 0;
  for (float v : yv) {
    if (v == scale)
      ++kept;
    else if (v != 0.0f)
      ++bad;
  }
  BOOST_TEST(bad == 0);  // every element is dropped or scaled by exactly 1/(1-p)
  const double frac = double(kept) / double(n);
  const double sigma = std::sqrt(p * (1 - p) / double(n));
  BOOST_TEST(std::abs(frac - (1 - p)) < 6 * sigma, "kept fraction " << frac);
  // Mean preserved (inverted dropout): 6 sigma of the mean of n scaled Bernoullis.
  double mean = 0;
  for (float v : yv) mean += v;
  mean /= double(n);
  BOOST_TEST(std::abs(mean - 1.0) < 6 * double(scale) * sigma);
}

BOOST_AUTO_TEST_CASE(dropout_masks_and_modes) {
  Generator g1(5), g2(5), g3(6);
  Tensor x = affine(ones({1000}, DType::f64), 2.0, 0.5);
  ag::Var vx(x);
  Tensor m1 = ag::dropout(vx, 0.5, true, &g1).value();
  Tensor m2 = ag::dropout(vx, 0.5, true, &g2).value();
  Tensor m3 = ag::dropout(vx, 0.5, true, &g3).value();
  BOOST_TEST(bit_equal(m1, m2));   // same seed, same mask
  BOOST_TEST(!bit_equal(m1, m3));  // another seed, another mask
  Tensor m1b = ag::dropout(vx, 0.5, true, &g1).value();
  BOOST_TEST(!bit_equal(m1, m1b));  // the generator advanced
  // Default generator: reseeding repeats the mask.
  manual_seed(17);
  Tensor d1 = ag::dropout(vx, 0.5).value();
  manual_seed(17);
  Tensor d2 = ag::dropout(vx, 0.5).value();
  BOOST_TEST(bit_equal(d1, d2));
  // Identity when not training or p = 0.
  BOOST_TEST(ag::dropout(vx, 0.5, false).same(vx));
  BOOST_TEST(ag::dropout(vx, 0.0, true, &g1).same(vx));
  BOOST_CHECK_EXCEPTION(ag::dropout(vx, 1.0), difflab::Error,
                        has_message({"dropout", "[0, 1)", "1"}));
  BOOST_CHECK_EXCEPTION(ag::dropout(vx, -0.1), difflab::Error, has_message({"dropout", "-0.1"}));
  // Gradient: g * mask / (1 - p), the same mask as the forward.
  ag::Var leaf(x.clone(), true);
  Generator g4(5);
  ag::Var y = ag::dropout(leaf, 0.5, true, &g4);
  ag::sum(y).backward();
  auto gv = leaf.grad().value().to_vector<double>();
  auto yv = y.value().to_vector<double>();
  bool match = true;
  for (size_t i = 0; i < gv.size(); ++i)
    if (gv[i] != (yv[i] == 0.0 ? 0.0 : 2.0)) match = false;
  BOOST_TEST(match);
}

BOOST_AUTO_TEST_CASE(index_errors) {
  Tensor x = zeros({5, 3});
  BOOST_CHECK_EXCEPTION(index_select(x, 0, i64({1, 5}, {2})), difflab::Error,
                        has_message({"index_select", "index 5", "valid range [0, 4]"}));
  BOOST_CHECK_EXCEPTION(index_select(x, 1, i64({-1}, {1})), difflab::Error,
                        has_message({"index_select", "index -1", "valid range [0, 2]"}));
  BOOST_CHECK_EXCEPTION(gather(x, 1, i64({0, 7}, {1, 2})), difflab::Error,
                        has_message({"gather", "index 7", "valid range [0, 2]"}));
  BOOST_CHECK_EXCEPTION(scatter_add(x, 0, i64({9}, {1, 1}), ones({1, 1})), difflab::Error,
                        has_message({"scatter_add", "index 9", "valid range [0, 4]"}));
  BOOST_CHECK_EXCEPTION(index_add(ones({2, 3}), 0, i64({0, 4}, {2}), 4), difflab::Error,
                        has_message({"index_add", "index 4", "valid range [0, 3]"}));
  BOOST_CHECK_EXCEPTION(embedding(x, i64({0, 6, 1}, {3})), difflab::Error,
                        has_message({"embedding", "index 6", "valid range [0, 4]"}));
  // Non-i64 index.
  BOOST_CHECK_EXCEPTION(index_select(x, 0, f32({1}, {1})), difflab::Error,
                        has_message({"index_select", "i64", "f32"}));
  BOOST_CHECK_EXCEPTION(gather(x, 0, zeros({1, 1}, DType::f64)), difflab::Error,
                        has_message({"gather", "i64", "f64"}));
  BOOST_CHECK_EXCEPTION(scatter_add(x, 0, zeros({1, 1}, DType::u8), ones({1, 1})), difflab::Error,
                        has_message({"scatter_add", "i64", "u8"}));
  BOOST_CHECK_EXCEPTION(embedding(x, zeros({2})), difflab::Error,
                        has_message({"embedding", "i64", "f32"}));
  // Shape errors.
  BOOST_CHECK_EXCEPTION(gather(x, 1, i64({0, 0, 0, 0, 0, 0, 0}, {7, 1})), difflab::Error,
                        has_message({"gather", "[7, 1]", "[5, 3]"}));
  BOOST_CHECK_EXCEPTION(cdist2(zeros({4, 3}), zeros({5, 2})), difflab::Error,
                        has_message({"cdist2", "[4, 3]", "[5, 2]"}));
  BOOST_CHECK_EXCEPTION(cdist2(zeros({2, 4, 3}), zeros({3, 5, 3})), difflab::Error,
                        has_message({"cdist2", "[2]", "[3]"}));
}

BOOST_AUTO_TEST_CASE(cat_stack_errors) {
  Tensor a = zeros({2, 3}), b = zeros({2, 4}), c = zeros({3, 3});
  BOOST_CHECK_NO_THROW(cat({a, b}, 1));
  BOOST_CHECK_EXCEPTION(
      cat({a, a, b}, 0), difflab::Error,
      has_message({"cat: tensor 2 has shape [2, 4] but tensor 0 has shape [2, 3]", "dim 0"}));
  BOOST_CHECK_EXCEPTION(cat({a, c}, 1), difflab::Error,
                        has_message({"cat", "tensor 1", "[3, 3]", "[2, 3]", "dim 1"}));
  BOOST_CHECK_EXCEPTION(cat({a, zeros({2, 3}, DType::f64)}, 0), difflab::Error,
                        has_message({"cat", "tensor 1", "f64", "f32"}));
  BOOST_CHECK_EXCEPTION(stack({a, a, c}, 0), difflab::Error,
                        has_message({"stack", "tensor 2", "[3, 3]", "[2, 3]"}));
  BOOST_CHECK_EXCEPTION(cat({}, 0), difflab::Error, has_message({"cat"}));
}
