// `difflab concepts`' report: per held-out composition and overall, each method's digit, colour
// and joint accuracy, KID, precision/recall and FD (mean ± std over queries and PoE seeds)
// beside the real images' own level (half of them against the other half); the judges'
// accuracy on real images; the first query's figures per composition; and the Fashion-MNIST
// mode hierarchy figure.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "experiments/concept_query.h"
#include "experiments/config.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"

namespace difflab::experiments {

class ConceptsTable {
 public:
  // The real images of c: the judges' accuracy on them and the half-against-half level.
  void add_real(const Composition& c, const CompositionJudge& judge, const tensor::Tensor& images);
  void add_query(const Composition& c, const nlohmann::json& result);
  const std::vector<std::string>& compositions() const { return order_; }
  const std::map<std::string, QueryScores>& scores() const { return scores_; }
  const std::map<std::string, std::vector<nlohmann::json>>& results() const { return results_; }

 private:
  std::vector<std::string> order_;
  std::map<std::string, QueryScores> scores_;  // composition → method → entries
  std::map<std::string, std::vector<nlohmann::json>> results_;
};

void concepts_report(Report& rep, const ConceptsTable& table, const ConceptSettings& s,
                     const CompositionJudge& judge, const RunFolder& run,
                     const std::string& data_description);

// Modes of an unconditional Fashion-MNIST DDPM (concepts.hierarchy_base) found by ascent from a
// few test images at t = 50, 200, 300, 500, one row per timestep (written once, then reused).
void hierarchy_figure(Report& rep, const Config& cfg, const RunFolder& run);

}  // namespace difflab::experiments
