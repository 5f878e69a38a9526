#include "experiments/ddpm_report.h"

#include <cmath>
#include <set>

#include "experiments/progress.h"
#include "experiments/report.h"

namespace difflab::experiments {

void write_ddpm_report(const RunFolder& run, const Config& cfg, const DdpmData& data,
                       const DdpmModel& model, const Classifier* classifier,
                       const std::map<double, std::string>& grids, double train_seconds) {
  std::vector<MetricRow> rows = run.read_metrics();
  std::map<std::string, Series> by_name;
  for (auto& r : rows) {
    Series& s = by_name[r.metric];
    s.name = r.metric;
    s.x.push_back(double(r.step));
    s.y.push_back(r.value);
  }
  Report rep("DDPM on " + cfg.get_string("data.name"));
  rep.paragraph(data.description + "; " + std::to_string(model.module->num_parameters()) +
                " parameters; " + model.schedule->name() + " schedule, " +
                diffusion::parameterization_name(model.param) + " prediction; " +
                std::to_string(cfg.get_int("train.steps")) + " steps of batch " +
                std::to_string(cfg.get_int("train.batch")) +
                (std::isfinite(train_seconds)
                     ? " in " + format_duration(train_seconds) + " of training"
                     : std::string()) +
                ". Samples: " +
                cfg.get_string("sample.sampler") + ", " +
                std::to_string(cfg.get_int("sample.steps")) + " steps, " +
                std::to_string(cfg.get_int("eval.n")) + " samples against the held-out set.");
  if (classifier)
    rep.paragraph("Image metrics use a LeNet trained on the train split; its held-out accuracy is " +
                  format_number(classifier->test_accuracy) + ".");
  rep.heading("Final held-out metrics");
  std::vector<std::vector<std::string>> table;
  for (auto& [name, s] : by_name)
    if (name != "loss" && name != "lr" && !s.y.empty())
      table.push_back({name, format_number(s.y.back()), format_number(s.x.back())});
  rep.table({"metric", "value", "at step"}, table);
  rep.heading("Training loss");
  if (by_name.count("loss"))
    rep.plot({by_name["loss"]}, {"loss (mean over each logging window)", "step", "loss", false,
                                 true});
  // One plot per metric family: "mmd" with "mmd_data_vs_data", "frechet@w0" with "frechet@w1"...
  std::map<std::string, std::vector<Series>> families;
  for (auto& [name, s] : by_name) {
    if (name == "loss" || name == "lr" || s.x.size() < 1) continue;
    std::string fam = name.substr(0, name.find('@'));
    auto dv = fam.find("_data_vs_data");
    if (dv != std::string::npos) fam = fam.substr(0, dv);
    families[fam].push_back(s);
  }
  if (!families.empty()) rep.heading("Held-out metrics during training");
  for (auto& [fam, series] : families)
    rep.plot(series, {fam, "step", fam, false, false});
  rep.heading("Samples (EMA weights, last evaluation)");
  for (auto& [w, png] : grids)
    rep.image(model.num_classes > 0 ? "guidance w = " + format_number(w) + " (one column per class)"
                                    : "samples",
              png);
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
}

}  // namespace difflab::experiments
