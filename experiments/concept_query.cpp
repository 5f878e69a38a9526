#include "experiments/concept_query.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "autograd/grad_mode.h"
#include "diffusion/guidance.h"
#include "experiments/cancel.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "matching/concept_poe.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;
using tensor::DType;
using tensor::Tensor;

namespace {

// A seed for one named use within a query: FNV-1a of the name mixed with the run seed and the
// indices (the draws depend on the name written here, never on the order of calls).
uint64_t stream_seed(uint64_t seed, const std::string& name, int64_t a, int64_t b = 0) {
  uint64_t h = 1469598103934665603ull;
  for (char c : name) h = (h ^ uint8_t(c)) * 1099511628211ull;
  for (uint64_t v : {seed, uint64_t(a), uint64_t(b)}) h = (h ^ v) * 1099511628211ull;
  return h >> 1;  // Config seeds are signed 64-bit
}

nlohmann::json scores_json(const CompositionScores& c) {
  return {{"n", c.n}, {"digit", c.digit}, {"color", c.color}, {"joint", c.joint}, {"kid", c.kid},
          {"precision", c.precision}, {"recall", c.recall}, {"frechet", c.frechet}};
}

CompositionScores scores_from(const nlohmann::json& j) {
  CompositionScores c;
  c.n = j.at("n"), c.digit = j.at("digit"), c.color = j.at("color"), c.joint = j.at("joint");
  c.kid = j.at("kid"), c.precision = j.at("precision"), c.recall = j.at("recall");
  c.frechet = j.at("frechet");
  return c;
}

// Class-conditional samples of `model` for `label` under CFG weight w.
Tensor sample_class(const DdpmModel& model, const SampleSettings& base, int64_t label, int64_t n,
                    double w, uint64_t seed) {
  SampleSettings s = base;
  s.labels = tensor::full({n}, double(label), DType::i64);
  s.guidance = w;
  s.seed = seed;
  return generate(model, n, s);
}

// One method's samples, judged, recorded under result["methods"][name], with a grid.
void record(nlohmann::json& result, const ConceptContext& ctx, const QueryJob& job,
            const std::string& name, const Tensor& samples, double seconds) {
  const CompositionScores sc = ctx.judge->score(samples, job.target, job.real);
  result["methods"][name].push_back(scores_json(sc));
  result["seconds"][name] = result["seconds"].value(name, 0.0) + seconds;
  if (result["methods"][name].size() == 1)
    write_png_grid(job.dir + "/" + name + ".png", samples.slice(0, 0, std::min<int64_t>(64, samples.size(0))));
  std::fprintf(stderr, "  %-10s digit %.2f colour %.2f joint %.2f  KID %.4f  P %.2f R %.2f  (%.0f s)\n",
               name.c_str(), sc.digit, sc.color, sc.joint, sc.kid, sc.precision, sc.recall, seconds);
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The noise-free start's ascent at each timestep, one row each: the recorded states x/√ᾱ (the
// last one repeated when a row stopped early).
void trajectory_grid(const Discovery& d, const std::string& path) {
  constexpr size_t kColumns = 9;
  std::vector<Tensor> cells;
  for (const auto& m : d.modes) {
    if (m.start != 0 || m.trajectory.empty()) continue;
    for (size_t i = 0; i < kColumns; ++i)
      cells.push_back(tensor::affine(m.trajectory[std::min(i, m.trajectory.size() - 1)],
                                     1.0 / std::sqrt(m.alpha_bar), 0.0));
  }
  if (!cells.empty()) write_png_grid(path, tensor::cat(cells, 0), int64_t(kColumns));
}

// The discovery's figures: every candidate's Tweedie mean (one row per timestep's starts), the
// ascent trajectories, and the selected prototypes followed by the teacher's mean μ*.
void discovery_grids(const Discovery& d, const std::string& dir, int64_t per_row) {
  trajectory_grid(d, dir + "/trajectories.png");
  std::vector<Tensor> all, chosen;
  for (const auto& c : d.candidates) all.push_back(c.mean);
  if (!all.empty()) write_png_grid(dir + "/modes.png", tensor::cat(all, 0), per_row);
  for (const auto& e : d.experts) chosen.push_back(e.mean);
  if (chosen.empty()) return;
  chosen.push_back(matching::poe_product(d.experts, d.masks).mean.to(chosen[0].dtype()));
  write_png_grid(dir + "/prototypes.png", tensor::cat(chosen, 0), int64_t(chosen.size()));
}

nlohmann::json discovery_json(const Discovery& d) {
  nlohmann::json modes = nlohmann::json::object(), chosen = nlohmann::json::array();
  for (const auto& m : d.modes) modes[std::to_string(m.t)] = modes.value(std::to_string(m.t), 0) + 1;
  for (size_t i = 0; i < d.selection.chosen.size(); ++i)
    chosen.push_back({{"candidate", d.selection.chosen[i]},
                      {"t", d.candidates[size_t(d.selection.chosen[i])].t},
                      {"gain", d.selection.gains[i]}});
  return {{"modes_per_t", modes}, {"candidates", d.candidates.size()}, {"chosen", chosen},
          {"f_all", d.selection.f_all}, {"f_empty", d.selection.f_empty},
          {"evaluations", d.evaluations}, {"seconds", d.seconds}};
}

}  // namespace

int64_t nearest_class(const DdpmModel& base, const Tensor& query, uint64_t seed) {
  constexpr int64_t kDraws = 64;
  DIFFLAB_CHECK(base.param == diffusion::Parameterization::eps && base.num_classes > 0,
                "nearest_class: needs a class-conditional eps-prediction model");
  ag::NoGradGuard off;
  tensor::Generator g(seed);
  const std::vector<double> ts = base.schedule->sample_times(kDraws, g);
  Shape shape = query.shape();
  shape[0] = kDraws;
  const Tensor eps = tensor::randn(shape, query.dtype(), &g);
  std::vector<double> alpha, sigma;
  for (double t : ts) alpha.push_back(base.schedule->alpha(t)), sigma.push_back(base.schedule->sigma(t));
  const Tensor x0 = query.expand(shape).contiguous();
  const Tensor a = tensor::from_vector<double>(alpha, {kDraws, 1, 1, 1}).to(query.dtype());
  const Tensor sg = tensor::from_vector<double>(sigma, {kDraws, 1, 1, 1}).to(query.dtype());
  const Tensor z = tensor::binary(tensor::BinaryOp::add, tensor::binary(tensor::BinaryOp::mul, a, x0),
                                  tensor::binary(tensor::BinaryOp::mul, sg, eps));
  const Tensor tn = diffusion::net_time_tensor(ts, query.dtype());
  int64_t best = 0;
  double best_loss = INFINITY;
  for (int64_t c = 0; c < base.num_classes; ++c) {
    const Tensor labels = tensor::full({kDraws}, double(c), DType::i64);
    const Tensor out = base.net(Var(z), tn, labels).value();
    const Tensor d = tensor::binary(tensor::BinaryOp::sub, out, eps);
    const double loss = tensor::mean(tensor::binary(tensor::BinaryOp::mul, d, d), {}).item();
    if (loss < best_loss) best_loss = loss, best = c;
  }
  return best;
}

}  // namespace difflab::experiments

namespace difflab::experiments {
namespace {

bool wants(const ConceptSettings& s, const std::string& method) {
  return std::find(s.methods.begin(), s.methods.end(), method) != s.methods.end();
}

int64_t job_key(const QueryJob& job) { return job.target.digit * 100 + job.index; }

// The teacher's samples for seed k (discovery repeated with that seed's starts and probes);
// records PoE's scores when asked and returns the discovery.
Discovery poe_seed(nlohmann::json& r, const ConceptContext& ctx, const ConceptSettings& s,
                   const QueryJob& job, int64_t k) {
  tensor::Generator g(stream_seed(s.seed, "ascent", job_key(job), k));
  Discovery d = discover(*ctx.base, job.query, ctx.mean_image, s.discovery, g);
  r["discovery"].push_back(discovery_json(d));
  std::fprintf(stderr, "  discovery seed %lld: %zu modes, %zu chosen, %lld U-Net rows, %.0f s\n",
               (long long)k, d.modes.size(), d.experts.size(), (long long)d.evaluations, d.seconds);
  if (k == 0) discovery_grids(d, job.dir, s.discovery.ascent.restarts + 1);
  if (!wants(s, "poe") || d.experts.empty()) return d;
  const auto t0 = std::chrono::steady_clock::now();
  SampleSettings base = ctx.sampling;
  base.seed = stream_seed(s.seed, "poe_samples", job_key(job), k);
  const Tensor x = generate(*ctx.base, s.n, teacher_sampling(d, base, s.poe_guidance,
                                                             s.discovery.form, s.t_min));
  record(r, ctx, job, "poe", x, since(t0) + d.seconds);
  return d;
}

// A new class + LoRA fitted on `pool` in job.dir/<name>, sampled with CFG on it.
void adapted(nlohmann::json& r, const ConceptContext& ctx, const ConceptSettings& s,
             const QueryJob& job, const std::string& name, const Tensor& pool,
             const Tensor& init_row) {
  const auto t0 = std::chrono::steady_clock::now();
  AdaptSettings a = s.adapt;
  a.seed = stream_seed(s.seed, name + "_fit", job_key(job));
  const AdaptedModel m = fit_adapter(ctx.make_base, pool, init_row, a, job.dir + "/" + name, true);
  if (!m.finished) return;  // interrupted: run_query refuses to finish the query
  const Tensor x = sample_class(*m.model, ctx.sampling, m.label, s.n, s.class_guidance,
                                stream_seed(s.seed, name + "_samples", job_key(job)));
  record(r, ctx, job, name, x, since(t0));
}

Tensor class_row(const DdpmModel& base, int64_t cls) {
  return base.module->state_dict().at("label_emb.weight").select(0, cls).clone();
}

void run_methods(nlohmann::json& r, const ConceptContext& ctx, const ConceptSettings& s,
                 const QueryJob& job) {
  const int64_t nearest = nearest_class(*ctx.base, job.query, stream_seed(s.seed, "nearest", job_key(job)));
  r["nearest_class"] = nearest;
  if (wants(s, "nearest")) {
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor x = sample_class(*ctx.base, ctx.sampling, nearest, s.n, s.class_guidance,
                                  stream_seed(s.seed, "nearest_samples", job_key(job)));
    record(r, ctx, job, "nearest", x, since(t0));
  }
  const int64_t seeds = wants(s, "poe") ? s.seeds : 1;
  Discovery first;
  if (wants(s, "poe") || wants(s, "lora"))
    for (int64_t k = 0; k < seeds; ++k) {
      Discovery d = poe_seed(r, ctx, s, job, k);
      if (k == 0) first = std::move(d);
    }
  const Tensor init = class_row(*ctx.base, nearest);
  if (wants(s, "lora") && !first.experts.empty()) {
    SampleSettings ps = ctx.sampling;
    ps.seed = stream_seed(s.seed, "pool", job_key(job));
    const Tensor pool = generate(*ctx.base, s.pool, teacher_sampling(first, ps, s.poe_guidance,
                                                                     s.discovery.form, s.t_min));
    write_png_grid(job.dir + "/pool.png", pool.slice(0, 0, std::min<int64_t>(64, s.pool)));
    adapted(r, ctx, s, job, "lora", pool, init);
  }
  if (wants(s, "query_only"))
    adapted(r, ctx, s, job, "query_only",
            shifted_copies(job.query, s.pool, s.query_shift, stream_seed(s.seed, "shifts", job_key(job))),
            init);
}

}  // namespace

nlohmann::json run_query(const ConceptContext& ctx, const ConceptSettings& s, const QueryJob& job) {
  const std::string path = job.dir + "/result.json";
  if (file_exists(path)) return nlohmann::json::parse(read_file(path));
  make_dirs(job.dir);
  write_png_grid(job.dir + "/query.png", job.query);
  nlohmann::json r = {{"composition", composition_name(job.target)}, {"query", job.index},
                      {"methods", nlohmann::json::object()}, {"seconds", nlohmann::json::object()},
                      {"discovery", nlohmann::json::array()}, {"real_images", job.real.size(0)}};
  run_methods(r, ctx, s, job);
  if (cancel_requested()) {
    std::fprintf(stderr, "concepts: interrupted in '%s'; the same command with --resume continues\n",
                 job.dir.c_str());
    return nlohmann::json();  // nothing written: the query runs again (its LoRA fits resume)
  }
  write_file_atomic(path, r.dump(1));
  return r;
}

QueryScores query_scores(const nlohmann::json& result) {
  QueryScores out;
  for (const auto& [name, list] : result.at("methods").items())
    for (const auto& j : list) out[name].push_back(scores_from(j));
  return out;
}

}  // namespace difflab::experiments
