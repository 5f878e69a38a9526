// One (held-out composition, query) of `difflab concepts`: concept discovery on the query, the
// PoE teacher sampled through CFG (several seeds of the method's own randomness), its pool
// distilled into a new class + LoRA, and the two baselines (the nearest trained class; a new
// class + LoRA fitted on the query alone), every method's samples judged against the real
// images of the composition. Writes its sub-run folder (grids, the LoRA fits, result.json),
// which a stopped run finds and keeps.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/concept_adapt.h"
#include "experiments/concept_discovery.h"
#include "experiments/concept_eval.h"

namespace difflab::experiments {

struct ConceptSettings {
  DiscoverySettings discovery;
  std::vector<std::string> methods{"query_only", "nearest", "poe", "lora"};
  int64_t n = 100;             // samples per method (and seed)
  int64_t seeds = 3;           // PoE: seeds of mode-ascent starts and sampling
  int64_t sample_steps = 50;   // DDIM
  double poe_guidance = 1.0;   // w of the teacher's CFG
  double class_guidance = 2.0; // w of the nearest class and the adapted classes
  double t_min = 0.0;          // teacher guidance off below this VP time
  int64_t pool = 256;          // teacher samples the adapter is fitted on
  int64_t query_shift = 2;     // query-only: random shifts of up to this many pixels
  AdaptSettings adapt;
  uint64_t seed = 0;
};

// What every query shares: the base model, its maker for the adapters, the judge and the
// training mean image.
struct ConceptContext {
  std::shared_ptr<DdpmModel> base;
  std::function<std::shared_ptr<DdpmModel>()> make_base;
  const CompositionJudge* judge = nullptr;
  tensor::Tensor mean_image;  // [1, 3, H, W]
  SampleSettings sampling;    // the base run's sample.* settings
};

struct QueryJob {
  Composition target;
  int64_t index = 0;     // query number within the composition
  tensor::Tensor query;  // [1, 3, H, W]
  tensor::Tensor real;   // the composition's real images, the queries left out
  std::string dir;       // the sub-run folder
};

// Scores per method: one entry per seed (PoE) or one.
using QueryScores = std::map<std::string, std::vector<CompositionScores>>;

// Runs the query (or loads dir/result.json when it is there); returns result.json's content,
// or null when a cancellation (SIGINT/SIGTERM) stopped it.
nlohmann::json run_query(const ConceptContext& ctx, const ConceptSettings& s, const QueryJob& job);
QueryScores query_scores(const nlohmann::json& result);

// The trained class whose conditional diffusion loss on the query is lowest (averaged over
// 64 (t, ε) pairs from the seed, the same for every class).
int64_t nearest_class(const DdpmModel& base, const tensor::Tensor& query, uint64_t seed);

}  // namespace difflab::experiments
