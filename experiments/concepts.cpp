#include "experiments/concepts.h"

#include <cstdio>

#include "experiments/base_run.h"
#include "experiments/cancel.h"
#include "experiments/concepts_report.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "nn/safetensors.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::Tensor;

namespace {

void declare_discovery_keys(Config& c) {
  c.declare_string("concepts.timesteps", "50,100,200,300,500", {}, "mode-ascent timesteps (of 1000)")
      .declare_int("concepts.restarts", 4, 0, 1000, "noised starts per timestep (plus the noise-free one)")
      .declare_double("concepts.gamma", 0.5, 1e-6, 1, "ascent step γ (1: mean shift)")
      .declare_int("concepts.max_steps", 200, 1, 100000, "ascent steps at most")
      .declare_int("concepts.record_every", 25, 0, 100000, "ascent states recorded every this many steps")
      .declare_string("concepts.covariance", "diagonal", {"isotropic", "diagonal", "trace"},
                      "each mode's Gaussian: σ_t² I, Hutchinson diagonal, or trace-isotropic")
      .declare_int("concepts.probes", 16, 1, 4096, "Hutchinson probes per mode")
      .declare_string("concepts.objective", "facility_location", {"facility_location", "log_sum"},
                      "submodular selection objective")
      .declare_int("concepts.max_select", 4, 1, 100, "prototypes selected at most")
      .declare_double("concepts.stop_gain", 0.05, 0, 1, "stop when a gain is below this share of F(all)")
      .declare_int("concepts.patch", 4, 1, 28, "evidence patches (patch × patch × channels)")
      .declare_string("concepts.baseline", "matched", {"identity", "matched"},
                      "evidence baseline: the spec's N(x̄, I), or x̄ at each candidate's variances")
      .declare_string("concepts.teacher", "exact", {"exact", "score_sum"}, "the PoE teacher's form")
      .declare_bool("concepts.masked", false, "masked product (per-patch responsibilities)")
      .declare_bool("concepts.clip_mean", true, "clip each prototype's mean to [−1, 1]");
}

void declare_method_keys(Config& c) {
  c.declare_string("concepts.methods", "query_only,nearest,poe,lora", {},
                   "query_only, nearest, poe, lora (any subset)")
      .declare_int("concepts.n", 100, 2, 100000, "samples per method (and PoE seed)")
      .declare_int("concepts.seeds", 3, 1, 100, "PoE: seeds of its own randomness")
      .declare_int("concepts.sample_steps", 50, 1, 1000, "DDIM steps")
      .declare_double("concepts.poe_guidance", 1.0, 0, 100, "w of the teacher's CFG")
      .declare_double("concepts.class_guidance", 2.0, 0, 100, "w of the nearest and the adapted classes")
      .declare_double("concepts.t_min", 0.0, 0, 1, "teacher guidance off below this VP time")
      .declare_int("concepts.pool", 256, 2, 100000, "teacher samples the adapter is fitted on")
      .declare_int("concepts.query_shift", 2, 0, 10, "query-only augmentation: shifts up to this")
      .declare_int("concepts.lora_steps", 500, 1, 1000000, "adapter updates")
      .declare_int("concepts.lora_batch", 32, 1, 4096, "adapter batch")
      .declare_int("concepts.lora_rank", 4, 1, 256, "LoRA rank (α = rank)")
      .declare_double("concepts.lora_lr", 1e-3, 0, 1, "adapter Adam learning rate (one for LoRA and the row)");
}

}  // namespace

Config concepts_config() {
  Config c;
  c.declare_string("concepts.base", "runs/ddpm-ddpm_color_mnist_a", {},
                   "the pretrained class-conditional ColorMNIST-A DDPM run")
      .declare_string("concepts.base_preset", "ddpm_color_mnist_a", {},
                      "trains concepts.base from this preset when it is missing (empty: never)")
      .declare_string("concepts.compositions", "all", {},
                      "held-out compositions to run: all, or names like 0-red,5-red")
      .declare_int("concepts.queries", 3, 1, 50, "query images per composition")
      .declare_string("concepts.hierarchy_base", "runs/ddpm-ddpm_fashion_small", {},
                      "an unconditional Fashion-MNIST run for the mode hierarchy figure (empty: none)")
      .declare_string("device", "cpu", {"cpu"}, "runs on the CPU");
  declare_discovery_keys(c);
  declare_method_keys(c);
  return c;
}

ConceptSettings concept_settings(const Config& cfg) {
  ConceptSettings s;
  DiscoverySettings& d = s.discovery;
  d.timesteps.clear();
  for (double t : parse_list(cfg.get_string("concepts.timesteps"), "concepts.timesteps"))
    d.timesteps.push_back(int64_t(t));
  d.ascent.restarts = cfg.get_int("concepts.restarts");
  d.ascent.gamma = cfg.get_double("concepts.gamma");
  d.ascent.max_steps = cfg.get_int("concepts.max_steps");
  d.ascent.record_every = cfg.get_int("concepts.record_every");
  d.gaussian.kind = matching::parse_covariance_kind(cfg.get_string("concepts.covariance"));
  d.gaussian.probes = cfg.get_int("concepts.probes");
  d.select.objective = matching::parse_select_objective(cfg.get_string("concepts.objective"));
  d.select.max_size = cfg.get_int("concepts.max_select");
  d.select.stop_fraction = cfg.get_double("concepts.stop_gain");
  d.patch = cfg.get_int("concepts.patch");
  d.baseline = matching::parse_evidence_baseline(cfg.get_string("concepts.baseline"));
  d.form = matching::parse_teacher_form(cfg.get_string("concepts.teacher"));
  d.masked = cfg.get_bool("concepts.masked");
  d.clip_mean = cfg.get_bool("concepts.clip_mean");
  s.methods = parse_names(cfg.get_string("concepts.methods"));
  for (const auto& m : s.methods)
    DIFFLAB_CHECK(m == "query_only" || m == "nearest" || m == "poe" || m == "lora",
                  "concepts.methods: unknown method '", m, "' (query_only, nearest, poe, lora)");
  s.n = cfg.get_int("concepts.n");
  s.seeds = cfg.get_int("concepts.seeds");
  s.sample_steps = cfg.get_int("concepts.sample_steps");
  s.poe_guidance = cfg.get_double("concepts.poe_guidance");
  s.class_guidance = cfg.get_double("concepts.class_guidance");
  s.t_min = cfg.get_double("concepts.t_min");
  s.pool = cfg.get_int("concepts.pool");
  s.query_shift = cfg.get_int("concepts.query_shift");
  s.adapt.steps = cfg.get_int("concepts.lora_steps");
  s.adapt.batch = cfg.get_int("concepts.lora_batch");
  s.adapt.rank = cfg.get_int("concepts.lora_rank");
  s.adapt.alpha = double(s.adapt.rank);
  s.adapt.lr = cfg.get_double("concepts.lora_lr");
  s.seed = uint64_t(cfg.get_int("seed"));
  return s;
}

namespace {

std::vector<Composition> chosen_compositions(const std::string& text) {
  const std::vector<Composition> all = held_out_compositions();
  if (text == "all") return all;
  std::vector<Composition> out;
  for (const auto& name : parse_names(text)) {
    bool found = false;
    for (const auto& c : all)
      if (composition_name(c) == name) out.push_back(c), found = true;
    std::string names;
    for (const auto& c : all) names += (names.empty() ? "" : ", ") + composition_name(c);
    DIFFLAB_CHECK(found, "concepts.compositions: '", name, "' is not a held-out composition (",
                  names, ")");
  }
  return out;
}

struct Base {
  DdpmRunSettings rs;
  Dataset data;
  std::shared_ptr<DdpmModel> model;
};

Base load_base(const Config& cfg) {
  const std::string dir = cfg.get_string("concepts.base");
  Base b;
  b.rs = ddpm_run_settings(ensure_ddpm_run({dir, cfg.get_string("concepts.base_preset"),
                                            "concepts.base", cfg.get_int("threads")}));
  DIFFLAB_CHECK(b.rs.model.class_cond && b.rs.data.name == "color_mnist_a", "concepts.base: '", dir,
                "' must be a class-conditional DDPM on color_mnist_a (data.name is '",
                b.rs.data.name, "')");
  b.data = load_dataset(b.rs.data);
  b.model = load_ddpm_weights(dir, b.rs, b.data);
  return b;
}

// Query q of a composition: evenly spaced rows of its real images; the rest are the reference.
QueryJob make_job(const CompositionSet& held, const Composition& c, int64_t q, int64_t queries,
                  const RunFolder& run) {
  const int64_t n = held.set.size(), stride = n / queries;
  DIFFLAB_CHECK(stride >= 1 && n - queries >= 2, "concepts: composition ", composition_name(c),
                " has only ", n, " real images for ", queries, " queries");
  std::vector<int64_t> rest;
  for (int64_t i = 0; i < n; ++i)
    if (i % stride != 0 || i / stride >= queries) rest.push_back(i);
  QueryJob job;
  job.target = c;
  job.index = q;
  job.query = held.set.images.slice(0, q * stride, q * stride + 1).contiguous();
  job.real = tensor::index_select(held.set.images, 0,
                                  tensor::from_vector<int64_t>(rest, {int64_t(rest.size())}));
  job.dir = run.path("compositions/" + composition_name(c) + "/q" + std::to_string(q));
  return job;
}

}  // namespace

int run_concepts(const CommandArgs& args) {
  const std::string dir = default_run_dir("concepts", args);
  const Config cfg = command_config(concepts_config(), args, dir, args.resume);
  apply_threads(cfg);
  const ConceptSettings s = concept_settings(cfg);
  const std::vector<Composition> comps = chosen_compositions(cfg.get_string("concepts.compositions"));
  const Base b = load_base(cfg);
  SignalCancel on_signal;  // SIGINT/SIGTERM anywhere: finish or drop the query, keep the rest
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  const MnistData mnist = load_mnist();
  const CompositionJudge judge(mnist);
  ConceptContext ctx;
  ctx.base = b.model;
  const std::string base_dir = cfg.get_string("concepts.base");
  ctx.make_base = [base_dir, rs = b.rs, data = &b.data] { return load_ddpm_weights(base_dir, rs, *data); };
  ctx.judge = &judge;
  ctx.mean_image = tensor::mean(b.data.train, {0}, true);
  ctx.sampling = b.rs.sample;
  ctx.sampling.steps = s.sample_steps;
  ConceptsTable table;
  const int64_t queries = cfg.get_int("concepts.queries");
  for (const Composition& c : comps) {
    if (cancel_requested()) break;
    const CompositionSet held = held_out_set(mnist.test, c);
    table.add_real(c, judge, held.set.images);
    for (int64_t q = 0; q < queries && !cancel_requested(); ++q) {
      std::fprintf(stderr, "concepts %s query %lld/%lld\n", composition_name(c).c_str(),
                   (long long)q + 1, (long long)queries);
      const nlohmann::json r = run_query(ctx, s, make_job(held, c, q, queries, run));
      if (!r.is_null()) table.add_query(c, r);
    }
  }
  Report rep("difflab concepts: test-time concept discovery on ColorMNIST benchmark A");
  concepts_report(rep, table, s, judge, run, b.data.description);
  hierarchy_figure(rep, cfg, run);
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return cancel_requested() ? 130 : 0;
}

}  // namespace difflab::experiments
