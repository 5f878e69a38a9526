#include "experiments/mem_depth_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace difflab::experiments {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::set<std::string> kExact{"full", "per_step", "segments", "two_level", "recompute"};

bool is_exact(const std::string& m) { return kExact.count(m) || m.rfind("revolve:", 0) == 0; }
double mib(size_t b) { return double(b) / 1048576.0; }
std::string fmt(double v) { return std::isnan(v) ? "—" : format_number(v); }

using ByMethod = std::map<std::string, std::vector<const MemDepthRow*>>;  // ascending K

ByMethod by_method(const std::vector<MemDepthRow>& rows) {
  ByMethod m;
  for (const auto& r : rows) m[r.method].push_back(&r);
  for (auto& [n, v] : m)
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->steps < b->steps; });
  return m;
}

template <typename F>
Series series(const std::string& name, const std::vector<const MemDepthRow*>& rs, F y) {
  Series s{name, {}, {}};
  for (const auto* r : rs) {
    const double v = y(*r);
    if (std::isnan(v)) continue;
    s.x.push_back(double(r->steps));
    s.y.push_back(v);
  }
  return s;
}

template <typename F>
void plot(Report& rep, const ByMethod& m, const std::string& title, const std::string& ylabel,
          F y) {
  std::vector<Series> all;
  for (const auto& [name, rs] : m) {
    Series s = series(name, rs, y);
    if (!s.x.empty()) all.push_back(std::move(s));
  }
  if (!all.empty()) rep.plot(all, {title, "sampler steps K", ylabel, true, true});
}

void slope_table(Report& rep, const ByMethod& m) {
  std::vector<std::vector<std::string>> t;
  for (const auto& entry : m) {
    const std::string& name = entry.first;  // not a structured binding: clang 14 cannot capture one
    const std::vector<const MemDepthRow*>& rs = entry.second;
    auto fit = [&](auto y) {
      const Series s = series(name, rs, y);
      return loglog_slope(s.x, s.y);
    };
    const MemDepthRow& last = *rs.back();
    t.push_back({name, fmt(fit([](const MemDepthRow& r) { return double(r.peak_bytes); })),
                 fmt(fit([](const MemDepthRow& r) { return double(r.activation_bytes); })),
                 fmt(fit([](const MemDepthRow& r) { return r.seconds; })),
                 std::to_string(last.steps), format_number(mib(last.peak_bytes)),
                 format_number(last.seconds), format_number(double(last.forwards) / double(last.steps))});
  }
  rep.table({"method", "peak slope", "activation slope", "time slope", "largest K",
             "peak MiB there", "seconds there", "forwards / K there"},
            t);
}

void row_table(Report& rep, const std::vector<MemDepthRow>& rows) {
  std::vector<std::vector<std::string>> t;
  for (const auto& r : rows)
    t.push_back({std::to_string(r.steps), r.method, format_number(mib(r.peak_bytes)),
                 format_number(mib(r.activation_bytes)), format_number(mib(r.state_bytes)),
                 std::to_string(r.peak_states), std::to_string(r.forwards),
                 r.expected_forwards >= 0 ? std::to_string(r.expected_forwards) : "—",
                 std::to_string(r.vjps), format_number(r.seconds), std::to_string(r.timed_runs),
                 fmt(r.rel_err), fmt(r.cosine), fmt(r.z0_rel_err), fmt(r.rel_err_f32),
                 format_number(mib(r.rss_peak_bytes))});
  rep.table({"K", "method", "peak MiB", "activations MiB", "states MiB", "states held",
             "forwards", "formula", "VJPs", "seconds (median)", "timed runs",
             "θ rel. err f64", "θ cosine f64", "z₀ rel. err f64", "θ rel. err f32",
             "process RSS MiB"},
            t);
}

const MemDepthRow* at(const ByMethod& m, const std::string& name, int64_t k) {
  auto it = m.find(name);
  if (it == m.end()) return nullptr;
  for (const auto* r : it->second)
    if (r->steps == k) return r;
  return nullptr;
}

std::string verdict(bool ok) { return ok ? "PASS " : "FAIL "; }

void check_full_slope(const ByMethod& m, std::vector<std::string>& out) {
  auto f = m.find("full");
  if (f == m.end() || f->second.size() < 2) return;
  std::vector<double> x, y;
  for (const auto* r : f->second) x.push_back(double(r->steps)), y.push_back(double(r->activation_bytes));
  const MemDepthRow* ps = at(m, "per_step", f->second.back()->steps);
  if (!ps) return;
  const double slope = linear_slope(x, y), a = double(ps->activation_bytes);
  out.push_back(verdict(std::abs(slope / a - 1) <= 0.05) +
                "full backprop's activations grow by " + format_number(slope / 1024) +
                " KiB per step; one step's tape A (per-step checkpointing, loss included) is " +
                format_number(a / 1024) + " KiB: ratio " + format_number(slope / a) +
                " (spec: A per step within 5%)");
}

void check_flat(const ByMethod& m, std::vector<std::string>& out) {
  auto p = m.find("per_step");
  if (p == m.end() || p->second.size() < 2) return;
  size_t lo = SIZE_MAX, hi = 0;
  std::vector<double> x, y;
  for (const auto* r : p->second) {
    lo = std::min(lo, r->activation_bytes), hi = std::max(hi, r->activation_bytes);
    x.push_back(double(r->steps)), y.push_back(double(r->state_bytes));
  }
  const double s_bytes = double(p->second.back()->state_bytes) / double(p->second.back()->peak_states);
  out.push_back(verdict(lo == hi) + "per-step checkpointing's activations are flat in K: " +
                format_number(mib(lo)) + "–" + format_number(mib(hi)) + " MiB");
  const double slope = linear_slope(x, y);
  out.push_back(verdict(std::abs(slope / s_bytes - 1) <= 0.05) +
                "its stored states grow by " + format_number(slope / 1024) +
                " KiB per step; one state S is " + format_number(s_bytes / 1024) + " KiB");
}

void check_revolve(const ByMethod& m, std::vector<std::string>& out) {
  for (const auto& [name, rs] : m) {
    if (name.rfind("revolve:", 0) != 0) continue;
    bool ok = true;
    std::string worst;
    for (const auto* r : rs) {
      const MemDepthRow* ps = at(m, "per_step", r->steps);
      const int64_t c = name == "revolve:log" ? r->peak_states : std::stoll(name.substr(8));
      const bool good = r->peak_states <= std::max<int64_t>(1, std::min(c, r->steps)) &&
                        (!ps || r->activation_bytes == ps->activation_bytes) &&
                        r->forwards == r->expected_forwards;
      if (!good) ok = false, worst = "K = " + std::to_string(r->steps);
    }
    out.push_back(verdict(ok) + name + ": at most c states held, one step's activations, and " +
                  "t(K, c) + K forwards at every K" + (ok ? "" : " (fails at " + worst + ")"));
  }
}

void check_exact(const std::vector<MemDepthRow>& rows, std::vector<std::string>& out) {
  double e64 = 0, e32 = 0;
  bool any = false;
  for (const auto& r : rows) {
    if (!is_exact(r.method) || r.method == "full") continue;
    any = true;
    if (!std::isnan(r.rel_err)) e64 = std::max({e64, r.rel_err, r.z0_rel_err});
    if (!std::isnan(r.rel_err_f32)) e32 = std::max(e32, r.rel_err_f32);
  }
  if (!any) return;
  out.push_back(verdict(e64 <= 1e-10 && e32 <= 1e-4) +
                "every exact schedule matches full backprop: largest relative error " +
                format_number(e64) + " in f64 (≤ 1e-10), " + format_number(e32) +
                " in f32 (≤ 1e-4)");
}

void check_adjoint(const ByMethod& m, std::vector<std::string>& out) {
  for (const char* name : {"adjoint_recorded", "adjoint_reintegrated"}) {
    auto it = m.find(name);
    if (it == m.end() || it->second.size() < 2) continue;
    bool falls = true;
    std::string list;
    for (size_t i = 0; i < it->second.size(); ++i) {
      const auto* r = it->second[i];
      if (i > 0 && !(r->rel_err < it->second[i - 1]->rel_err)) falls = false;
      list += (i ? ", " : "") + std::string("K=") + std::to_string(r->steps) + ": " + fmt(r->rel_err);
    }
    out.push_back(verdict(falls) + name + "'s θ error falls as K grows (" + list + ")");
  }
}

void note_truncation(const ByMethod& m, std::vector<std::string>& out) {
  for (const auto& [name, rs] : m) {
    if (name.rfind("truncated:", 0) != 0 && name != "score_function") continue;
    std::string list;
    for (const auto* r : rs)
      list += (list.empty() ? "" : ", ") + std::string("K=") + std::to_string(r->steps) +
              ": " + fmt(1 - r->cosine);
    out.push_back("NOTE " + name + ": 1 − cosine to full backprop's gradient (bias" +
                  (name == "score_function" ? " and variance" : "") + ", reported, not asserted): " + list);
  }
}

}  // namespace

double linear_slope(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return kNaN;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += x[i] / double(n), my += y[i] / double(n);
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < n; ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  return sxx > 0 ? sxy / sxx : kNaN;
}

double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> lx, ly;
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i)
    if (x[i] > 0 && y[i] > 0) lx.push_back(std::log(x[i])), ly.push_back(std::log(y[i]));
  return linear_slope(lx, ly);
}

std::vector<std::string> mem_depth_checks(const std::vector<MemDepthRow>& rows) {
  const ByMethod m = by_method(rows);
  std::vector<std::string> out;
  check_full_slope(m, out);
  check_flat(m, out);
  check_revolve(m, out);
  check_exact(rows, out);
  check_adjoint(m, out);
  note_truncation(m, out);
  return out;
}

Report mem_depth_report(const MemDepthSettings& s, const std::vector<MemDepthRow>& rows) {
  Report rep("difflab mem-depth: gradient memory against sampler depth (" + s.model + ")");
  rep.paragraph(
      "The gradient of a loss on the final samples of a K-step sampler with respect to every "
      "parameter and the initial noise, by each method (spec_distillation_implicit §4). Peak: "
      "the allocator's high-water mark during one gradient (parameters, allocated before, are "
      "not in it; their gradients are). Activations: the largest taped graph's saved bytes, "
      "parameters excluded. States: the chain states the schedule stores. Errors: against full "
      "backprop at the same K, in f64 (and f32). The model is randomly initialised (enough "
      "for memory, time and agreement); batch " + std::to_string(s.batch) + ".");
  for (const std::string& sampler : s.samplers) {
    std::vector<MemDepthRow> mine;
    for (const auto& r : rows)
      if (r.sampler == sampler) mine.push_back(r);
    if (mine.empty()) continue;
    const ByMethod m = by_method(mine);
    rep.heading(sampler == "ddim" ? "DDIM (deterministic)" : "Ancestral DDPM (Philox noise)");
    plot(rep, m, "peak bytes during one gradient", "MiB", [](const MemDepthRow& r) { return mib(r.peak_bytes); });
    plot(rep, m, "time of one gradient (median)", "seconds", [](const MemDepthRow& r) { return r.seconds; });
    plot(rep, m, "relative error of dL/dθ against full backprop (f64)", "relative L2",
         [](const MemDepthRow& r) { return r.method == "full" ? kNaN : std::max(r.rel_err, 1e-17); });
    slope_table(rep, m);
    std::string checks;
    for (const auto& line : mem_depth_checks(mine)) checks += line + "\n";
    rep.paragraph(checks);
    row_table(rep, mine);
  }
  return rep;
}

}  // namespace difflab::experiments
