#include "experiments/ddpm_report.h"

#include <cmath>
#include <set>

#include "experiments/metric_draws.h"
#include "experiments/progress.h"
#include "experiments/report.h"
#include "experiments/sample_metrics.h"

namespace difflab::experiments {

void write_ddpm_report(const RunFolder& run, const DdpmRunSettings& s, const nlohmann::json& config,
                       const Dataset& data, const DdpmModel& model, const Classifier* classifier,
                       const std::map<double, std::string>& grids, double train_seconds) {
  std::map<std::string, Series> by_name = metric_series(run.read_metrics());
  Report rep("DDPM on " + s.data.name);
  rep.paragraph(data.description + "; " + std::to_string(model.module->num_parameters()) +
                " parameters; " + model.schedule->name() + " schedule, " +
                diffusion::parameterization_name(model.param) + " prediction; " +
                std::to_string(s.train.loop.updates) + " steps of batch " +
                std::to_string(s.train.batch) +
                (std::isfinite(train_seconds)
                     ? " in " + format_duration(train_seconds) + " of training"
                     : std::string()) +
                ". Samples: " +
                s.sample.sampler + ", " +
                std::to_string(s.sample.steps) + " steps, " +
                std::to_string(s.eval_n) + " samples against the held-out set.");
  if (classifier)
    rep.paragraph("Image metrics use a LeNet trained on the train split; its held-out accuracy is " +
                  format_number(classifier->test_accuracy) + ".");
  std::map<std::string, double> last;
  for (auto& [name, ser] : by_name) last[name] = ser.y.back();
  const std::string verdict = mode_verdict(last, data);
  if (!verdict.empty()) rep.paragraph(verdict);
  rep.heading("Final held-out metrics");
  std::vector<std::vector<std::string>> table;
  for (auto& [name, ser] : by_name)
    if (name != "loss" && name != "lr" && !ser.y.empty() && !is_spread_name(name))
      table.push_back({name, value_with_spread(by_name, name), format_number(ser.x.back())});
  rep.table({"metric", "value (± sd over draws where evaluated with eval.seeds)", "at step"}, table);
  const std::string note = single_draw_note(by_name, run.dir());
  if (!note.empty()) rep.paragraph(note);
  rep.heading("Training loss");
  if (by_name.count("loss"))
    rep.plot({by_name["loss"]}, {"loss (mean over each logging window)", "step", "loss", false,
                                 true});
  // One plot per metric family: "mmd" with "mmd_data_vs_data", "frechet@w0" with "frechet@w1"...
  std::map<std::string, std::vector<Series>> families;
  for (auto& [name, ser] : by_name) {
    if (name == "loss" || name == "lr" || ser.x.size() < 1) continue;
    std::string fam = name.substr(0, name.find('@'));
    auto dv = fam.find("_data_vs_data");
    if (dv != std::string::npos) fam = fam.substr(0, dv);
    families[fam].push_back(ser);
  }
  if (!families.empty()) rep.heading("Held-out metrics during training");
  for (auto& [fam, series] : families)
    rep.plot(series, {fam, "step", fam, false, false});
  rep.heading("Samples (EMA weights, last evaluation)");
  for (auto& [w, png] : grids)
    rep.image(model.num_classes > 0 ? "guidance w = " + format_number(w) + " (one column per class)"
                                    : "samples",
              png);
  rep.config(config);
  rep.write(run.path("report.html"));
}

}  // namespace difflab::experiments
