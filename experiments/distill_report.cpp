#include "experiments/distill_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "experiments/io.h"
#include "experiments/progress.h"
#include "experiments/report.h"
#include "experiments/sample_metrics.h"

namespace difflab::experiments {

std::string distill_sample_name(const std::string& tag, const std::string& suffix) {
  std::string s = tag + suffix;
  for (char& c : s)
    if (c == '@') c = '_';
  return s;
}

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

std::string cell(double v) { return std::isfinite(v) ? format_number(v) : "–"; }

// The last value of every metric (a resumed run logs each once after truncation anyway), the
// loss curve, and the two metrics the report ranks by.
struct Rows {
  std::map<std::string, double> last;
  Series loss{"loss", {}, {}};
  std::string m1, m2;  // mmd and sliced_w1 for vectors, frechet and kid for images

  double get(const std::string& k) const { return last.count(k) ? last.at(k) : kNan; }
  // "<prefix><metric><at>" with " ± sd" when several draws were evaluated (eval.seeds).
  std::string with_sd(const std::string& prefix, const std::string& metric,
                      const std::string& at) const {
    const double sd = get(prefix + metric + "_sd" + at);
    return cell(get(prefix + metric + at)) + (std::isfinite(sd) ? " ± " + format_number(sd) : "");
  }
};

Rows read_rows(const RunFolder& run, const Dataset& data) {
  Rows m;
  for (const MetricRow& r : run.read_metrics()) {
    m.last[r.metric] = r.value;
    if (r.metric == "loss") m.loss.x.push_back(double(r.step)), m.loss.y.push_back(r.value);
  }
  m.m1 = data.images ? "frechet" : "mmd";
  m.m2 = data.images ? "kid" : "sliced_w1";
  return m;
}

// The teacher's reference samplers (only those of eval.reference_samplers: a re-evaluation may
// drop one, whose old rows remain); the best by m1 is "the teacher's best sampler".
struct References {
  std::vector<std::vector<std::string>> rows;
  std::string best_tag;  // "reference_ddpm"
  double best = kNan;
};

References reference_rows(const Rows& m, const DistillSettings& s) {
  References out;
  const std::vector<std::string>& samplers = s.eval.reference_samplers;
  for (auto& [k, v] : m.last) {
    const std::string tag = k.substr(0, k.find('/'));
    if (k.rfind("reference_", 0) != 0 || k != tag + "/" + m.m1) continue;
    if (std::find(samplers.begin(), samplers.end(), tag.substr(10)) == samplers.end()) continue;
    out.rows.push_back({tag.substr(10) + " " +
                            std::to_string(s.eval.reference_steps) + " steps",
                        m.with_sd(tag + "/", m.m1, ""), m.with_sd(tag + "/", m.m2, "")});
    if (!(v >= out.best)) out.best = v, out.best_tag = tag;  // NaN-safe minimum
  }
  return out;
}

std::string intro(const DistillSettings& s, const Dataset& data,
                  const DdpmModel& teacher, const std::vector<int64_t>& rounds, int64_t n0) {
  return data.description + "; teacher " + s.teacher + " (" +
         std::to_string(teacher.module->num_parameters()) + " parameters, " +
         teacher.schedule->name() + " schedule, " +
         diffusion::parameterization_name(teacher.param) + " prediction). Chain " +
         std::to_string(n0) + " → " + std::to_string(rounds.back()) + " steps, " +
         std::to_string(s.updates) + " updates per halving (×" +
         format_number(s.last_rounds_factor) +
         " for 2 and 1 steps) of batch " + std::to_string(s.batch) +
         ", Adam lr " + format_number(s.lr) +
         " decayed linearly to 0 each round. Every sampler draws the same " +
         std::to_string(s.eval.n) +
         " initial noises; metrics are against the held-out split" +
         (data.images ? " in the features of a LeNet trained on the train split" : "") + ".";
}

// The quality-versus-steps table and plot; returns the best reference sampler's series name.
std::string quality_section(Report& rep, const Rows& m, const References& ref, const DistillSettings& s,
                            const Dataset& data, const std::vector<int64_t>& all) {
  const int64_t n0 = all.front();
  const std::string& m1 = m.m1;
  const std::string& m2 = m.m2;
  const std::string& best_ref = ref.best_tag;
  const double data_level = data.images ? m.get("ddim/" + m1 + "_data_vs_data@" + std::to_string(n0))
                                        : m.get(best_ref + "/" + m1 + "_data_vs_data");
  const double data_level2 = data.images ? m.get("ddim/" + m2 + "_data_vs_data@" + std::to_string(n0))
                                         : m.get(best_ref + "/" + m2 + "_data_vs_data");
  rep.heading("Quality against sampling steps");
  std::vector<std::vector<std::string>> rows;
  Series s_student{"distilled student (DDIM)", {}, {}}, s_ddim{"teacher, plain DDIM", {}, {}},
      s_ref{"teacher, " + best_ref.substr(best_ref.empty() ? 0 : 10) + " " +
                std::to_string(s.eval.reference_steps) + " steps",
            {}, {}},
      s_data{"data vs data", {}, {}};
  for (int64_t n : all) {
    const std::string at = "@" + std::to_string(n);
    const double dd = m.get("ddim/" + m1 + at);
    const double st = n == n0 ? dd : m.get("student/" + m1 + at);
    const std::string who = n == n0 ? "ddim/" : "student/";
    rows.push_back({std::to_string(n), m.with_sd(who, m1, at), m.with_sd("ddim/", m1, at),
                    m.with_sd(best_ref + "/", m1, ""), m.with_sd(who, m2, at),
                    m.with_sd("ddim/", m2, at), cell(m.get("student/trajectory_mse" + at))});
    if (std::isfinite(st)) s_student.x.push_back(double(n)), s_student.y.push_back(st);
    if (std::isfinite(dd)) s_ddim.x.push_back(double(n)), s_ddim.y.push_back(dd);
    s_ref.x.push_back(double(n)), s_ref.y.push_back(ref.best);
    s_data.x.push_back(double(n)), s_data.y.push_back(data_level);
  }
  rep.table({"steps N", "(a) student " + m1, "(b) teacher DDIM " + m1,
             "(c) teacher reference " + m1, "(a) student " + m2, "(b) teacher DDIM " + m2,
             "student vs its teacher's 2N-step samples (MSE)"},
            rows);
  const int64_t seeds = s.eval.seeds;
  rep.paragraph("Row " + std::to_string(n0) + " is the teacher itself. " +
                (seeds > 1 ? "Each cell is the mean ± standard deviation over " +
                                 std::to_string(seeds) + " independent noise draws of " +
                                 std::to_string(s.eval.n) + " samples. "
                           : std::string("Each cell is one draw of ") +
                                 std::to_string(s.eval.n) +
                                 " samples (eval.seeds > 1 gives the spread over draws). ") +
                "(c) is the best of the "
                "reference samplers below. The data-vs-data level (an independent draw of real "
                "data against the held-out split, same sample size) is " +
                cell(data_level) + " for " + m1 + " and " + cell(data_level2) + " for " + m2 +
                ".");
  if (!ref.rows.empty()) rep.table({"teacher reference sampler", m1, m2}, ref.rows);
  std::vector<Series> plot{s_student, s_ddim};
  if (std::isfinite(ref.best)) plot.push_back(s_ref);
  if (std::isfinite(data_level)) plot.push_back(s_data);
  rep.plot(plot, {m1 + " (held-out) against sampling steps", "steps", m1, true, true});
  return s_ref.name;
}

void cost_section(Report& rep, const DistillSettings& s, const DdpmRunSettings& ts,
                  const std::vector<int64_t>& rounds, const nlohmann::json& timing) {
  rep.heading("Cost");
  double chain = 0, evals = 0;
  int64_t chain_updates = 0;
  std::vector<std::vector<std::string>> cost;
  for (int64_t n : rounds) {
    const double r = timing.value("round_seconds@" + std::to_string(n), kNan);
    const double e = timing.value("eval_seconds@" + std::to_string(n), kNan);
    const int64_t u = distill_round_updates(s, n);
    chain += std::isfinite(r) ? r : 0, evals += std::isfinite(e) ? e : 0;
    if (std::isfinite(r)) chain_updates += u;
    cost.push_back({std::to_string(n), std::to_string(u), cell(r), cell(r / double(u)), cell(e)});
  }
  rep.table({"round to N steps", "updates", "training seconds", "seconds per update",
             "evaluation seconds"},
            cost);
  const double teacher_s = timing.value("teacher_train_seconds", kNan);
  const int64_t teacher_steps = ts.train.loop.updates;
  rep.paragraph(
      "Whole chain: " + std::to_string(chain_updates) + " updates in " + format_duration(chain) +
      " (" + format_duration(evals) + " more for evaluating the students). Teacher training: " +
      std::to_string(teacher_steps) + " steps of batch " +
      std::to_string(ts.train.batch) + " in " +
      (std::isfinite(teacher_s) ? format_duration(teacher_s) +
                                      " (its train-ddpm run, periodic evaluations included); "
                                      "chain / teacher = " +
                                      format_number(chain / teacher_s) + " in time, " +
                                      format_number(double(chain_updates) /
                                                    double(teacher_steps)) +
                                      " in updates"
                                : std::string("a time not recorded")) +
      ". A distillation update runs the teacher twice without gradients besides the student's "
      "training step. The times are wall clock: other load on the machine, and pauses, count. "
      "Salimans & Ho claim the chain costs no more than training the teacher.");
}

void samples_section(Report& rep, const RunFolder& run, const std::vector<int64_t>& all,
                     const std::string& best_ref, const std::string& ref_name) {
  rep.heading("Samples per stage (same noise in every grid)");
  auto embed = [&](const std::string& caption, const std::string& name) {
    const std::string p = run.sample_path(name);
    if (file_exists(p)) rep.image(caption, read_file(p));
  };
  if (!best_ref.empty()) embed("teacher, " + ref_name.substr(9), distill_sample_name(best_ref, ""));
  for (int64_t n : all) {
    const std::string at = "@" + std::to_string(n);
    if (n != all.front())
      embed("student, " + std::to_string(n) + " steps", distill_sample_name("student", at));
    embed("teacher DDIM, " + std::to_string(n) + " steps", distill_sample_name("ddim", at));
  }
}

}  // namespace

void write_distill_report(const RunFolder& run, const DistillSettings& s,
                          const nlohmann::json& config, const DdpmRunSettings& ts,
                          const Dataset& data, const DdpmModel& teacher,
                          const std::vector<int64_t>& rounds, const nlohmann::json& timing,
                          const Classifier* classifier) {
  const Rows m = read_rows(run, data);
  const References ref = reference_rows(m, s);
  const int64_t n0 = s.start_steps;
  Report rep("Progressive distillation on " + ts.data.name);
  rep.paragraph(intro(s, data, teacher, rounds, n0));
  if (classifier)
    rep.paragraph("LeNet held-out accuracy: " + format_number(classifier->test_accuracy) + ".");
  std::vector<int64_t> all{n0};
  all.insert(all.end(), rounds.begin(), rounds.end());
  const std::string ref_name = quality_section(rep, m, ref, s, data, all);
  for (int64_t n : all) {
    const std::string who = n == n0 ? "ddim/" : "student/";
    const std::string v = mode_verdict(m.last, data, who, "@" + std::to_string(n));
    if (!v.empty())
      rep.paragraph((n == n0 ? "Teacher, DDIM " : "Student, ") + std::to_string(n) + " steps: " + v);
  }
  cost_section(rep, s, ts, rounds, timing);
  if (!m.loss.x.empty()) {
    rep.heading("Distillation loss");
    rep.plot({m.loss}, {"loss (mean over each logging window; the step count halves at each "
                        "round)", "update", "loss", false, true});
  }
  samples_section(rep, run, all, ref.best_tag, ref_name);
  rep.config(config);
  rep.write(run.path("report.html"));
}

}  // namespace difflab::experiments
