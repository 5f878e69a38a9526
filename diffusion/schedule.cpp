#include "diffusion/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tensor/factory.h"

namespace difflab::diffusion {

namespace {
constexpr double kPi = std::numbers::pi;

void check_t(double t, const std::string& schedule, const char* what) {
  DIFFLAB_CHECK(t >= 0.0 && t <= 1.0, schedule, " schedule ", what, ": t = ", t,
                " is outside [0, 1]");
}

// t·T, snapped to the integer when within 1e-9 of it: i/T·T is not always exactly i in floating
// point (0.003·1000 = 3.0000000000000004), and grid points must hit their exact ᾱ_i and the
// right one-sided slope.
double grid_position(double t, int64_t T) {
  const double x = t * double(T), r = std::round(x);
  return std::abs(x - r) < 1e-9 ? r : x;
}
}  // namespace

double net_time(double t) { return kNetTimeScale * t; }

Tensor net_time_tensor(double t, int64_t batch, DType dtype, tensor::Device device) {
  return tensor::full({batch}, net_time(t), dtype, device);
}

Tensor net_time_tensor(const std::vector<double>& t, DType dtype, tensor::Device device) {
  std::vector<double> v(t.size());
  for (size_t i = 0; i < t.size(); ++i) v[i] = net_time(t[i]);
  return tensor::from_vector(v, {int64_t(v.size())}, dtype).to(device);
}

// ---- Schedule (shared parts) ----

double Schedule::log_snr(double t) const { return 2.0 * (std::log(alpha(t)) - std::log(sigma(t))); }

std::vector<double> Schedule::time_grid(int64_t steps) const {
  DIFFLAB_CHECK(steps >= 1, name(), " schedule time_grid: steps = ", steps, " must be >= 1");
  std::vector<double> t(size_t(steps) + 1);
  for (int64_t k = 0; k <= steps; ++k) t[size_t(k)] = double(steps - k) / double(steps);
  return t;
}

std::vector<double> Schedule::sample_times(int64_t n, tensor::Generator& gen) const {
  std::vector<double> u = tensor::rand({n}, DType::f64, &gen).to_vector<double>();
  for (double& x : u) x = 1.0 - x;  // U[0,1) -> (0, 1]
  return u;
}

double Schedule::edm_sigma(double t) const { return sigma(t) / alpha(t); }

double Schedule::t_from_edm_sigma(double edm_sigma) const {
  DIFFLAB_CHECK(edm_sigma >= 0.0, name(), " schedule t_from_edm_sigma: sigma = ", edm_sigma,
                " is negative");
  return t_from_log_snr(-2.0 * std::log(edm_sigma));
}

// ---- LinearDiscreteSchedule ----

LinearDiscreteSchedule::LinearDiscreteSchedule(int64_t T, double beta_start, double beta_end)
    : T_(T) {
  DIFFLAB_CHECK(T >= 1, "linear schedule: T = ", T, " must be >= 1");
  DIFFLAB_CHECK(beta_start > 0 && beta_end < 1 && beta_start <= beta_end,
                "linear schedule: need 0 < beta_start <= beta_end < 1, got ", beta_start, ", ",
                beta_end);
  beta_.assign(size_t(T) + 1, 0.0);
  log_alpha_bar_.assign(size_t(T) + 1, 0.0);
  for (int64_t i = 1; i <= T; ++i) {
    // Ho et al. 2020 §4: β_1 = 1e-4 ... β_T = 0.02, linear (numpy.linspace in the reference).
    beta_[size_t(i)] =
        T == 1 ? beta_start : beta_start + (beta_end - beta_start) * double(i - 1) / double(T - 1);
    // log ᾱ_i = Σ log(1 − β_s): the running product in f64, kept as a log so that the
    // continuous-time interpolation and its inverse are monotone and exact on the grid.
    log_alpha_bar_[size_t(i)] = log_alpha_bar_[size_t(i - 1)] + std::log1p(-beta_[size_t(i)]);
  }
}

double LinearDiscreteSchedule::beta(int64_t i) const {
  DIFFLAB_CHECK(i >= 1 && i <= T_, "linear schedule beta: step ", i, " is outside 1..", T_);
  return beta_[size_t(i)];
}

double LinearDiscreteSchedule::alpha_bar(int64_t i) const {
  DIFFLAB_CHECK(i >= 0 && i <= T_, "linear schedule alpha_bar: step ", i, " is outside 0..", T_);
  return std::exp(log_alpha_bar_[size_t(i)]);
}

double LinearDiscreteSchedule::log_alpha_bar(double t) const {
  check_t(t, name(), "alpha");
  const double x = grid_position(t, T_);
  const int64_t i = std::min<int64_t>(int64_t(std::floor(x)), T_ - 1);
  const double f = x - double(i);
  if (f == 0.0) return log_alpha_bar_[size_t(i)];  // on the grid: exactly Σ log(1 − β_s)
  return log_alpha_bar_[size_t(i)] +
         f * (log_alpha_bar_[size_t(i + 1)] - log_alpha_bar_[size_t(i)]);
}

double LinearDiscreteSchedule::dlog_alpha_bar_dt(double t, Side side) const {
  check_t(t, name(), "derivative");
  // Slope of segment i, which spans [(i−1)/T, i/T]: the one holding t, and at a grid point the
  // one below or above it (clamped to the first and last segments at t = 0 and t = 1).
  const double x = grid_position(t, T_);
  const int64_t i = std::clamp<int64_t>(
      side == Side::below ? int64_t(std::ceil(x)) : int64_t(std::floor(x)) + 1, 1, T_);
  return double(T_) * (log_alpha_bar_[size_t(i)] - log_alpha_bar_[size_t(i - 1)]);
}

double LinearDiscreteSchedule::alpha(double t) const { return std::exp(0.5 * log_alpha_bar(t)); }

double LinearDiscreteSchedule::sigma(double t) const {
  return std::sqrt(-std::expm1(log_alpha_bar(t)));  // sqrt(1 − ᾱ) without cancellation
}

double LinearDiscreteSchedule::log_snr(double t) const {
  const double la = log_alpha_bar(t);
  return la - std::log(-std::expm1(la));  // log(ᾱ/(1 − ᾱ))
}

double LinearDiscreteSchedule::t_from_log_snr(double lambda) const {
  if (lambda == INFINITY) return 0.0;
  // ᾱ = sigmoid(λ), so log ᾱ = −log(1 + e^{−λ}).
  const double target =
      lambda > 0 ? -std::log1p(std::exp(-lambda)) : lambda - std::log1p(std::exp(lambda));
  if (target <= log_alpha_bar_.back()) return 1.0;
  // log ᾱ is strictly decreasing in i: find i with lab[i] >= target > lab[i+1].
  auto it = std::upper_bound(log_alpha_bar_.begin(), log_alpha_bar_.end(), target,
                             [](double v, double e) { return v > e; });
  const int64_t i1 = int64_t(it - log_alpha_bar_.begin());  // first index with lab < target
  const int64_t i0 = i1 - 1;
  const double a = log_alpha_bar_[size_t(i0)], b = log_alpha_bar_[size_t(i1)];
  return (double(i0) + (a - target) / (a - b)) / double(T_);
}

double LinearDiscreteSchedule::dalpha_dt(double t, Side side) const {
  return 0.5 * alpha(t) * dlog_alpha_bar_dt(t, side);  // α = exp(½ log ᾱ)
}

double LinearDiscreteSchedule::dsigma_dt(double t, Side side) const {
  // σ² = 1 − ᾱ, so 2σσ̇ = −ᾱ (d log ᾱ/dt); infinite at t = 0 where σ = 0.
  const double la = log_alpha_bar(t);
  return -std::exp(la) * dlog_alpha_bar_dt(t, side) / (2.0 * std::sqrt(-std::expm1(la)));
}

std::vector<double> LinearDiscreteSchedule::time_grid(int64_t steps) const {
  DIFFLAB_CHECK(steps >= 1 && steps <= T_, "linear schedule time_grid: steps = ", steps,
                " must be in 1..", T_, " (step skipping picks a subset of the T grid points)");
  std::vector<double> t(size_t(steps) + 1);
  for (int64_t k = 0; k <= steps; ++k) {
    // Grid index rounded to an integer so that every time is exactly some i/T.
    const double i = std::round(double(T_) * double(steps - k) / double(steps));
    t[size_t(k)] = i / double(T_);
  }
  return t;
}

std::vector<double> LinearDiscreteSchedule::sample_times(int64_t n, tensor::Generator& gen) const {
  std::vector<int64_t> i = tensor::randint(1, T_ + 1, {n}, &gen).to_vector<int64_t>();
  std::vector<double> t(i.size());
  for (size_t k = 0; k < i.size(); ++k) t[k] = double(i[k]) / double(T_);
  return t;
}

// ---- CosineSchedule ----

double CosineSchedule::alpha(double t) const {
  check_t(t, name(), "alpha");
  return t == 1.0 ? 0.0 : std::cos(0.5 * kPi * t);
}

double CosineSchedule::sigma(double t) const {
  check_t(t, name(), "sigma");
  return t == 1.0 ? 1.0 : std::sin(0.5 * kPi * t);
}

double CosineSchedule::log_snr(double t) const {
  check_t(t, name(), "log_snr");
  if (t == 1.0) return -INFINITY;
  return -2.0 * std::log(std::tan(0.5 * kPi * t));
}

double CosineSchedule::t_from_log_snr(double lambda) const {
  // λ = −2 log tan(πt/2)  ⇔  t = (2/π) atan(e^{−λ/2}).
  return 2.0 / kPi * std::atan(std::exp(-0.5 * lambda));
}

double CosineSchedule::dalpha_dt(double t, Side) const {
  check_t(t, name(), "dalpha_dt");
  return -0.5 * kPi * std::sin(0.5 * kPi * t);
}

double CosineSchedule::dsigma_dt(double t, Side) const {
  check_t(t, name(), "dsigma_dt");
  return 0.5 * kPi * alpha(t);
}

// ---- factory, Karras steps, per-sample coefficients ----

std::shared_ptr<const Schedule> make_schedule(const std::string& name) {
  if (name == "linear") return std::make_shared<LinearDiscreteSchedule>();
  if (name == "cosine") return std::make_shared<CosineSchedule>();
  DIFFLAB_FAIL("make_schedule: unknown schedule '", name, "' (expected 'linear' or 'cosine')");
}

std::vector<double> karras_sigmas(int64_t n, double sigma_min, double sigma_max, double rho) {
  DIFFLAB_CHECK(n >= 1, "karras_sigmas: n = ", n, " must be >= 1");
  DIFFLAB_CHECK(sigma_min > 0 && sigma_min <= sigma_max && rho > 0,
                "karras_sigmas: need 0 < sigma_min <= sigma_max and rho > 0, got sigma_min = ",
                sigma_min, ", sigma_max = ", sigma_max, ", rho = ", rho);
  std::vector<double> s(size_t(n) + 1, 0.0);
  const double a = std::pow(sigma_max, 1.0 / rho), b = std::pow(sigma_min, 1.0 / rho);
  for (int64_t i = 0; i < n; ++i) {
    const double r = n == 1 ? 0.0 : double(i) / double(n - 1);
    s[size_t(i)] = std::pow(a + r * (b - a), rho);
  }
  // Exact endpoints (pow(pow(x, 1/ρ), ρ) is off by an ulp or so).
  s[0] = sigma_max;
  if (n > 1) s[size_t(n) - 1] = sigma_min;
  return s;
}

Tensor per_sample(const std::vector<double>& values, int64_t ndim, DType dtype,
                  tensor::Device device) {
  DIFFLAB_CHECK(ndim >= 1, "per_sample: ndim = ", ndim, " must be >= 1");
  tensor::Shape shape(size_t(ndim), 1);
  shape[0] = int64_t(values.size());
  return tensor::from_vector(values, shape, dtype).to(device);
}

}  // namespace difflab::diffusion
