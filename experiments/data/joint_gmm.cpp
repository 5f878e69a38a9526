#include "experiments/data/joint_gmm.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tensor/error.h"
#include "tensor/factory.h"

namespace difflab::experiments {

namespace {

using Vec = std::vector<double>;

// Lower-triangular L with L Lᵀ = S; throws when S is not positive definite.
Matrix cholesky(const Matrix& S) {
  const size_t n = S.size();
  Matrix L(n, Vec(n, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) {
      double s = S[i][j];
      for (size_t k = 0; k < j; ++k) s -= L[i][k] * L[j][k];
      if (i == j) {
        DIFFLAB_CHECK(s > 0, "mixture covariance is not positive definite (pivot ", i, ": ", s, ")");
        L[i][i] = std::sqrt(s);
      } else {
        L[i][j] = s / L[j][j];
      }
    }
  return L;
}

// S⁻¹ b from S's Cholesky factor (forward, then backward substitution).
Vec solve(const Matrix& L, Vec b) {
  const size_t n = L.size();
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < i; ++k) b[i] -= L[i][k] * b[k];
    b[i] /= L[i][i];
  }
  for (size_t i = n; i-- > 0;) {
    for (size_t k = i + 1; k < n; ++k) b[i] -= L[k][i] * b[k];
    b[i] /= L[i][i];
  }
  return b;
}

// log N(x; μ, S).
double log_normal(const Vec& x, const Vec& mu, const Matrix& S) {
  const Matrix L = cholesky(S);
  Vec d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - mu[i];
  const Vec a = solve(L, d);
  double quad = 0, logdet = 0;
  for (size_t i = 0; i < x.size(); ++i) quad += d[i] * a[i], logdet += 2 * std::log(L[i][i]);
  return -0.5 * (double(x.size()) * std::log(2 * std::numbers::pi) + logdet + quad);
}

Matrix block(const Matrix& S, size_t r0, size_t r1, size_t c0, size_t c1) {
  Matrix B(r1 - r0, Vec(c1 - c0));
  for (size_t i = r0; i < r1; ++i)
    for (size_t j = c0; j < c1; ++j) B[i - r0][j - c0] = S[i][j];
  return B;
}

double log_sum_exp(const Vec& v) {
  const double m = *std::max_element(v.begin(), v.end());
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

Vec normals(int64_t n, tensor::Generator& gen) {
  const tensor::Tensor t = tensor::randn({n}, tensor::DType::f64, &gen);
  const double* p = t.data<double>();
  return Vec(p, p + n);
}

}  // namespace

void FullMixture::validate() const {
  const size_t K = weights.size();
  DIFFLAB_CHECK(K > 0 && means.size() == K && covs.size() == K, "mixture: ", K, " weights, ",
                means.size(), " means and ", covs.size(), " covariances");
  double total = 0;
  for (size_t k = 0; k < K; ++k) {
    DIFFLAB_CHECK(weights[k] > 0, "mixture: weight ", k, " is ", weights[k]);
    total += weights[k];
    DIFFLAB_CHECK(means[k].size() == means[0].size() && covs[k].size() == means[0].size(),
                  "mixture: component ", k, " has a different dimension");
    for (const Vec& row : covs[k])
      DIFFLAB_CHECK(row.size() == means[0].size(), "mixture: covariance ", k, " is not square");
    cholesky(covs[k]);
  }
  DIFFLAB_CHECK(std::abs(total - 1) < 1e-9, "mixture: weights sum to ", total);
}

tensor::Tensor FullMixture::sample(int64_t n, tensor::Generator& gen, tensor::DType dtype) const {
  const int64_t D = dim();
  std::vector<Matrix> chol;
  for (const Matrix& S : covs) chol.push_back(cholesky(S));
  const tensor::Tensor u = tensor::rand({n}, tensor::DType::f64, &gen);
  const Vec z = normals(n * D, gen);
  Vec out(size_t(n * D));
  for (int64_t i = 0; i < n; ++i) {
    double c = u.data<double>()[i];
    size_t k = 0;
    while (k + 1 < weights.size() && c >= weights[k]) c -= weights[k++];
    for (int64_t a = 0; a < D; ++a) {
      double v = means[k][size_t(a)];
      for (int64_t b = 0; b <= a; ++b) v += chol[k][size_t(a)][size_t(b)] * z[size_t(i * D + b)];
      out[size_t(i * D + a)] = v;
    }
  }
  return tensor::from_vector(out, {n, D}, dtype);
}

double FullMixture::log_prob(const std::vector<double>& x) const {
  Vec terms;
  for (size_t k = 0; k < weights.size(); ++k)
    terms.push_back(std::log(weights[k]) + log_normal(x, means[k], covs[k]));
  return log_sum_exp(terms);
}

FullMixture condition_on_first(const FullMixture& joint, const std::vector<double>& x,
                               double min_weight) {
  const size_t D = size_t(joint.dim()), dx = x.size();
  DIFFLAB_CHECK(dx >= 1 && dx < D, "condition_on_first: ", dx, " conditioning coordinates of ", D);
  FullMixture out;
  Vec logw;
  for (size_t k = 0; k < joint.weights.size(); ++k) {
    const Matrix& S = joint.covs[k];
    const Matrix Sxx = block(S, 0, dx, 0, dx), Syx = block(S, dx, D, 0, dx);
    const Matrix Lxx = cholesky(Sxx);
    const Vec mx(joint.means[k].begin(), joint.means[k].begin() + long(dx));
    Vec d(dx);
    for (size_t i = 0; i < dx; ++i) d[i] = x[i] - mx[i];
    const Vec a = solve(Lxx, d);
    Vec mean(joint.means[k].begin() + long(dx), joint.means[k].end());
    Matrix cov = block(S, dx, D, dx, D);
    for (size_t i = 0; i < D - dx; ++i) {
      for (size_t j = 0; j < dx; ++j) mean[i] += Syx[i][j] * a[j];
      const Vec b = solve(Lxx, Syx[i]);  // Σ_xx⁻¹ Σ_xy column i
      for (size_t r = 0; r < D - dx; ++r)
        for (size_t j = 0; j < dx; ++j) cov[r][i] -= Syx[r][j] * b[j];
    }
    logw.push_back(std::log(joint.weights[k]) + log_normal(x, mx, Sxx));
    out.means.push_back(mean);
    out.covs.push_back(cov);
  }
  const double lse = log_sum_exp(logw);
  FullMixture kept;
  double total = 0;
  for (size_t k = 0; k < logw.size(); ++k) {
    const double w = std::exp(logw[k] - lse);
    if (w < min_weight) continue;
    kept.weights.push_back(w), kept.means.push_back(out.means[k]), kept.covs.push_back(out.covs[k]);
    total += w;
  }
  DIFFLAB_CHECK(!kept.weights.empty(), "condition_on_first: every component's weight is below ",
                min_weight);
  for (double& w : kept.weights) w /= total;
  return kept;
}

double l2_squared(const FullMixture& p, const FullMixture& q) {
  auto inner = [](const FullMixture& a, const FullMixture& b) {
    double s = 0;
    for (size_t i = 0; i < a.weights.size(); ++i)
      for (size_t j = 0; j < b.weights.size(); ++j) {
        Matrix S = a.covs[i];
        for (size_t r = 0; r < S.size(); ++r)
          for (size_t c = 0; c < S.size(); ++c) S[r][c] += b.covs[j][r][c];
        s += a.weights[i] * b.weights[j] * std::exp(log_normal(a.means[i], b.means[j], S));
      }
    return s;
  };
  DIFFLAB_CHECK(p.dim() == q.dim(), "l2_squared: dimensions ", p.dim(), " and ", q.dim());
  return inner(p, p) - 2 * inner(p, q) + inner(q, q);
}

namespace {

CdmTask task_2d() {
  CdmTask t;
  t.name = "2d";
  const std::vector<Vec> means = {{-5, 5}, {-5, -5}, {5, 3}, {5, -1}, {0, -3}, {-2, 4},
                                  {-2, -3}, {1, 2},  {-8, 1}, {7, 5},  {0, -5}};
  for (const Vec& m : means) {
    t.joint.weights.push_back(1.0 / double(means.size()));
    t.joint.means.push_back(m);
    t.joint.covs.push_back({{0.5, 0.195}, {0.195, 0.2}});
  }
  t.dim_x = 1;
  t.x_star = {-5.0};
  t.target = condition_on_first(t.joint, t.x_star, 0.01);
  return t;
}

// 4 components in D dims (spec §2.7): means N(0, 25 I) redrawn until every pair is ≥ 5 apart,
// covariances A Aᵀ + 1e-4 I; components 0 and 1 share component 0's X part, which is x*.
CdmTask task_nd(int64_t D, uint64_t seed) {
  CdmTask t;
  t.name = std::to_string(D) + "d";
  tensor::Generator gen(seed);
  const size_t d = size_t(D);
  while (t.joint.means.size() < 4) {
    Vec m = normals(D, gen);
    for (double& v : m) v *= 5.0;
    bool far = true;
    for (const Vec& o : t.joint.means) {
      double s = 0;
      for (size_t i = 0; i < d; ++i) s += (m[i] - o[i]) * (m[i] - o[i]);
      far = far && std::sqrt(s) >= 5.0;
    }
    if (far) t.joint.means.push_back(m);
  }
  for (int k = 0; k < 4; ++k) {
    const Vec a = normals(D * D, gen);
    Matrix S(d, Vec(d, 0.0));
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) {
        for (size_t l = 0; l < d; ++l) S[i][j] += a[i * d + l] * a[j * d + l];
        if (i == j) S[i][j] += 1e-4;
      }
    t.joint.covs.push_back(S);
    t.joint.weights.push_back(0.25);
  }
  t.dim_x = D - 1;
  t.x_star.assign(t.joint.means[0].begin(), t.joint.means[0].end() - 1);
  for (size_t i = 0; i + 1 < d; ++i) t.joint.means[1][i] = t.x_star[i];
  t.target = condition_on_first(t.joint, t.x_star, 0.001);
  return t;
}

}  // namespace

CdmTask make_cdm_task(const std::string& name, uint64_t seed) {
  CdmTask t;
  if (name == "2d") t = task_2d();
  else if (name == "5d") t = task_nd(5, seed);
  else if (name == "10d") t = task_nd(10, seed);
  else DIFFLAB_FAIL("unknown MLGD-F task '", name, "' (2d, 5d, 10d)");
  t.joint.validate();
  t.target.validate();
  return t;
}

}  // namespace difflab::experiments
