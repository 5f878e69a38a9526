#include "experiments/cdm_studies.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/inspect.h"
#include "experiments/cdm_report.h"
#include "experiments/io.h"
#include "experiments/metrics/cdm_metrics.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using ag::Var;

namespace {

constexpr int64_t kProbes = 16;  // x* and 15 draws of the X marginal

Tensor probe_points(const CdmTask& t, uint64_t seed) {
  tensor::Generator g(seed + 15485863);
  const Tensor xs = t.joint.sample(kProbes - 1, g).slice(1, 0, t.dim_x).contiguous();
  return tensor::cat({tensor::from_vector(t.x_star, {1, t.dim_x}, tensor::DType::f32), xs}, 0);
}

struct Probe {
  Tensor grad;
  size_t peak = 0, saved = 0;
  double seconds = 0;
};

// ∇ Σ_p ℓ(x_p) over the probe points, one matching loss per point (J = 1, no spread: the same
// estimator for every inner sampler), the noise of point p from seed + p.
Probe probe_gradient(const CdmBench& b, const matching::ConditionalSampler& inner,
                     const Tensor& points) {
  matching::CdmSettings l = b.s.loop;
  l.mc = 1;
  Probe p;
  const auto t0 = std::chrono::steady_clock::now();
  ag::MemoryScope scope;
  Var x(points, true);
  std::vector<Var> losses;
  for (int64_t r = 0; r < points.size(0); ++r) {
    tensor::Generator g(l.seed + uint64_t(r));
    losses.push_back(matching::mc_matching_loss(ag::slice(x, 0, r, r + 1), 0.0, inner,
                                                cdm_target(b.task), b.loss, l, g));
  }
  const Var total = ag::sum(ag::stack(losses, 0));
  p.saved = ag::graph_stats(total).saved_bytes;
  p.grad = ag::grad({total}, {x})[0].value().to(tensor::DType::f64);
  p.peak = scope.peak_bytes();
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return p;
}

double cosine(const Tensor& a, const Tensor& b) {
  const std::vector<double> u = a.contiguous().to_vector<double>(), v = b.contiguous().to_vector<double>();
  double uv = 0, uu = 0, vv = 0;
  for (size_t i = 0; i < u.size(); ++i) uv += u[i] * v[i], uu += u[i] * u[i], vv += v[i] * v[i];
  return uv / std::sqrt(uu * vv);
}

InnerControlRow control_row(const std::string& name, int64_t evals, bool ckpt, const Probe& p,
                            const Tensor& reference) {
  return {name, evals, ckpt, cosine(p.grad, reference), p.peak, p.saved, p.seconds};
}

std::string mib(size_t bytes) { return format_number(double(bytes) / (1024.0 * 1024.0)); }

nlohmann::json to_json(const std::vector<InnerControlRow>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows)
    j.push_back({{"sampler", r.sampler}, {"evaluations", r.evaluations}, {"checkpoint", r.checkpoint},
                 {"cosine", r.cosine}, {"peak_bytes", r.peak_bytes}, {"saved_bytes", r.saved_bytes},
                 {"seconds", r.seconds}});
  return j;
}

std::vector<InnerControlRow> from_json(const nlohmann::json& j) {
  std::vector<InnerControlRow> rows;
  for (const auto& r : j)
    rows.push_back({r.at("sampler"), r.at("evaluations"), r.at("checkpoint"), r.at("cosine"),
                    r.at("peak_bytes"), r.at("saved_bytes"), r.at("seconds")});
  return rows;
}

void control_gradient_table(Report& rep, const CdmBench& b, const std::vector<InnerControlRow>& rows) {
  const InnerControlRow& cm = rows.front();
  std::vector<std::vector<std::string>> t;
  for (const auto& r : rows)
    t.push_back({r.sampler, std::to_string(r.evaluations), r.checkpoint ? "yes" : "no",
                 format_number(r.cosine), mib(r.peak_bytes), mib(r.saved_bytes),
                 format_number(r.seconds), format_number(double(r.peak_bytes) / double(cm.peak_bytes)),
                 format_number(double(r.evaluations) / double(cm.evaluations))});
  rep.paragraph("x-gradient of the matching loss at " + std::to_string(kProbes) +
                " probe points (x* and draws of the X marginal; n = " +
                std::to_string(b.s.loop.n_cond) + " inner samples each, J = 1), against the " +
                "largest K* without checkpointing. Peak: the allocator's high-water mark over "
                "forward and backward; saved: the bytes the graph keeps for backward "
                "(graph_stats). The paper's memory claim is Θ(K*/K_s).");
  rep.table({"inner sampler", "evaluations", "checkpointed", "gradient cosine", "peak MiB",
             "saved MiB", "seconds", "peak / consistency's", "K*/K_s"},
            t);
}

void sensitivity_table(Report& rep, const CdmBench& b, const std::vector<CdmMethodResult>& runs) {
  const CdmCommandSettings& s = b.s;
  std::vector<std::string> header = {"n \\ J"};
  for (int64_t j : s.sensitivity_mc) header.push_back("J = " + std::to_string(j));
  std::vector<std::vector<std::string>> t;
  size_t k = 0;
  for (int64_t n : s.sensitivity_n) {
    std::vector<std::string> row = {std::to_string(n)};
    for (size_t j = 0; j < s.sensitivity_mc.size(); ++j, ++k) {
      const CdmScores sc = score_cdm(b.task, runs[k].x, runs[k].final_loss, 1);
      row.push_back(format_number(sc.l2_all.median) + " (" +
                    format_number(runs[k].seconds / double(runs[k].runs)) + " s)");
    }
    t.push_back(row);
  }
  rep.heading("Sensitivity of MLGD-F to n and J");
  rep.paragraph("Median L2 GMM over " + std::to_string(s.sensitivity_restarts) +
                " restarts per cell (seconds per run in brackets); everything else as the benchmark.");
  rep.table(header, t);
}

void l2_table(Report& rep, const CdmBench& b, const std::vector<CdmMethodResult>& runs) {
  std::vector<std::vector<std::string>> t;
  for (const auto& r : runs) {
    const CdmScores sc = score_cdm(b.task, r.x, r.final_loss, 1);
    t.push_back({r.name, std::to_string(r.runs), format_number(sc.l2_all.mean) + " ± " +
                 format_number(sc.l2_all.sd), format_number(sc.l2_all.median),
                 format_number(sc.loss_all.mean), format_number(r.seconds / double(r.runs))});
  }
  rep.table({"MLGD run", "restarts", "L2 GMM mean ± sd", "median", "final loss", "s per run"}, t);
}

void run_inner_control(const CdmBench& b, RunFolder& run, bool resume, Report& rep) {
  const std::string saved = run.path("methods/inner_control.json");
  std::vector<InnerControlRow> rows;
  if (resume && file_exists(saved)) {
    rows = from_json(nlohmann::json::parse(read_file(saved)));
  } else {
    rows = inner_control_gradients(b);
    write_file_atomic(saved, to_json(rows).dump(1));
  }
  rep.heading("Inner-sampler control");
  control_gradient_table(rep, b, rows);
  matching::CdmSettings l = b.s.loop;
  l.restarts = b.s.control_restarts;
  std::vector<CdmMethodResult> runs;
  runs.push_back(cached_method(run, resume, "control_consistency", [&] {
    return run_cdm_guided(b, "control_consistency", b.inner.sampler(b.s.inner_steps), l);
  }, b.task, b.s.top_k));
  for (int64_t k : b.s.control_steps) {
    const std::string name = "control_ddim" + std::to_string(k);
    runs.push_back(cached_method(run, resume, name, [&] {
      return run_cdm_guided(b, name, b.baseline->sampler(k, false), l);
    }, b.task, b.s.top_k));
  }
  l2_table(rep, b, runs);
}

void run_sensitivity(const CdmBench& b, RunFolder& run, bool resume, Report& rep) {
  std::vector<CdmMethodResult> runs;
  for (int64_t n : b.s.sensitivity_n)
    for (int64_t j : b.s.sensitivity_mc) {
      matching::CdmSettings l = b.s.loop;
      l.n_cond = l.n_target = l.final_n = n;
      l.mc = j;
      l.restarts = b.s.sensitivity_restarts;
      const std::string name = "sens_n" + std::to_string(n) + "_J" + std::to_string(j);
      runs.push_back(cached_method(run, resume, name, [&] {
        return run_cdm_guided(b, name, b.inner.sampler(b.s.inner_steps), l);
      }, b.task, b.s.top_k));
    }
  sensitivity_table(rep, b, runs);
}

}  // namespace

std::vector<InnerControlRow> inner_control_gradients(const CdmBench& b) {
  DIFFLAB_CHECK(b.baseline != nullptr, "cdm.inner_control needs the slow model (cdm.baseline)");
  const Tensor points = probe_points(b.task, b.s.loop.seed);
  const int64_t ref_k = b.s.control_steps.back();
  std::fprintf(stderr, "inner control: reference gradient through %lld DDIM steps\n", (long long)ref_k);
  const Tensor reference = probe_gradient(b, b.baseline->sampler(ref_k, false), points).grad;
  std::vector<InnerControlRow> rows;
  const int64_t ks = b.s.inner_steps;
  rows.push_back(control_row("consistency, " + std::to_string(ks) + " evaluation(s)", ks, false,
                             probe_gradient(b, b.inner.sampler(ks), points), reference));
  for (int64_t k : b.s.control_steps)
    for (bool ckpt : {false, true})
      rows.push_back(control_row("DDIM " + std::to_string(k) + " steps" + (ckpt ? ", checkpointed" : ""),
                                 k, ckpt, probe_gradient(b, b.baseline->sampler(k, ckpt), points),
                                 reference));
  return rows;
}

void run_cdm_studies(const CdmBench& b, RunFolder& run, bool resume, Report& rep) {
  if (b.s.inner_control) run_inner_control(b, run, resume, rep);
  if (b.s.sensitivity) run_sensitivity(b, run, resume, rep);
}

}  // namespace difflab::experiments
