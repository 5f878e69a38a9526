#include "experiments/compare_runs.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "experiments/ddpm_model.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "tensor/error.h"

namespace difflab::experiments {

namespace fs = std::filesystem;

Config compare_runs_config() {
  Config c;
  c.declare_string("compare.runs", "", {}, "run folders to compare, comma-separated (required)")
      .declare_string("compare.labels", "", {},
                      "one label per run, semicolon-separated (default: each folder's name)")
      .declare_string("compare.metrics", "", {},
                      "metrics to tabulate, comma-separated (default: every metric of any run)")
      .declare_string("compare.views", "", {},
                      "per run, semicolon-separated: the metric name a column is read from, "
                      "{} standing for the column's name (\"student/{}@4\" shows a distill "
                      "run's 4-step student; an empty item means {})")
      .declare_string("compare.grids", "", {},
                      "per run, semicolon-separated: the sample grid to show, a PNG path inside "
                      "the run folder (an empty item means the run's latest grid)")
      .declare_string("compare.title", "Comparison of runs", {}, "title of the page");
  return c;
}

namespace {

// What the page shows of one run, all read before anything is written.
struct RunSummary {
  std::string dir, label, view;           // view: the run's metric names, "{}" for the column
  std::map<std::string, MetricRow> last;  // the last row logged for each column's metric
  std::string grid;                       // the grid shown (compare.grids or the latest), or ""
  nlohmann::json config;                  // null without config.json
};

// The semicolon-separated items of `text`, each trimmed at its ends, empty items kept.
std::vector<std::string> split_items(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(';', start), text.size());
    const std::string item = text.substr(start, end - start);
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    out.push_back(a == std::string::npos ? "" : item.substr(a, b - a + 1));
    start = end + 1;
  }
  return out;
}

// Labels: unlike parse_names, labels keep their inner spaces and commas ("drifting, Gaussian
// kernel"); empty items are skipped.
std::vector<std::string> parse_labels(const std::string& text) {
  std::vector<std::string> out;
  for (std::string& item : split_items(text))
    if (!item.empty()) out.push_back(std::move(item));
  return out;
}

// One item per run (empty items kept, `name` in the error); an empty text gives n empty items.
std::vector<std::string> per_run_items(const std::string& text, size_t n, const char* name) {
  if (text.find_first_not_of(" \t") == std::string::npos) return std::vector<std::string>(n);
  std::vector<std::string> out = split_items(text);
  DIFFLAB_CHECK(out.size() == n, name, ": ", out.size(), " items for ", n,
                " runs in compare.runs (one per run, ';'-separated, empty items allowed)");
  return out;
}

std::string basename_of(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "runs/x/" names x
  return p.filename().string();
}

// N of "step<N>.png" or "step<N>_<suffix>.png" (the grids train-ddpm, train-drift and train-flux
// write at every evaluation; suffixes are guidance scales, "_w3"), or -1 for any other name.
int64_t step_of(const std::string& name) {
  size_t i = 4;
  if (name.rfind("step", 0) != 0) return -1;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
  if (i == 4 || i > 22 || (name[i] != '_' && name.compare(i, std::string::npos, ".png") != 0))
    return -1;
  return std::stoll(name.substr(4, i - 4));
}

// The run's latest sample grid. Among step-numbered grids: the highest step, and at that step
// the shortest name (the plain step<N>.png before its _w<w> variants), then the first by name.
// A run without step-numbered grids (distill's ddim_<n>.png, sample's sample_<tag>.png) has
// no step order, so its most recently written PNG stands for its latest samples.
std::string latest_grid(const std::string& dir) {
  std::vector<fs::path> pngs;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir + "/samples", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".png") pngs.push_back(it->path());
  if (pngs.empty()) return "";
  std::sort(pngs.begin(), pngs.end());
  auto key = [](const fs::path& p) {
    const std::string n = p.filename().string();
    return std::make_tuple(step_of(n), -int64_t(n.size()));
  };
  auto best = std::max_element(pngs.begin(), pngs.end(), [&](const auto& a, const auto& b) {
    return key(a) < key(b);  // strict: the first of equal keys (by name) wins
  });
  if (step_of(best->filename().string()) >= 0) return best->string();
  return std::max_element(pngs.begin(), pngs.end(),
                          [](const auto& a, const auto& b) {
                            return fs::last_write_time(a) < fs::last_write_time(b);
                          })
      ->string();
}

// `view` ("" for "{}") maps a column's name to the run's metric name; `grid` ("" for the latest)
// is a PNG path inside the run folder.
RunSummary read_run(const std::string& dir, const std::string& label, std::string view,
                    const std::string& grid) {
  DIFFLAB_CHECK(fs::is_directory(dir), "compare.runs: run folder '", dir, "' does not exist");
  const std::string csv = dir + "/metrics.csv";
  DIFFLAB_CHECK(file_exists(csv), "compare.runs: run folder '", dir,
                "' has no metrics.csv (not a finished run?)");
  if (view.empty()) view = "{}";
  const size_t hole = view.find("{}");
  DIFFLAB_CHECK(hole != std::string::npos && view.find("{}", hole + 2) == std::string::npos,
                "compare.views: '", view, "' (for ", dir, ") must hold {} exactly once");
  const std::string prefix = view.substr(0, hole), suffix = view.substr(hole + 2);
  std::string grid_path = latest_grid(dir);
  if (!grid.empty()) {
    grid_path = dir + "/" + grid;
    DIFFLAB_CHECK(file_exists(grid_path), "compare.grids: '", grid_path, "' does not exist");
  }
  RunSummary s{dir, label, view, {}, grid_path, nullptr};
  for (const MetricRow& r : read_metrics_csv(csv)) {
    const std::string& n = r.metric;
    if (n.size() > prefix.size() + suffix.size() && n.rfind(prefix, 0) == 0 &&
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      s.last.insert_or_assign(n.substr(prefix.size(), n.size() - prefix.size() - suffix.size()),
                              r);
  }
  if (file_exists(dir + "/config.json")) {
    try {
      s.config = nlohmann::json::parse(read_file(dir + "/config.json"));
    } catch (const nlohmann::json::parse_error& e) {
      DIFFLAB_FAIL("'", dir, "/config.json' is not valid JSON: ", e.what());
    }
  }
  return s;
}

// `target` as seen from `from_dir`, so the page's links survive moving the runs together;
// the path as given when no relative path exists.
std::string relative_to(const std::string& target, const std::string& from_dir) {
  std::error_code ec;
  fs::path r = fs::relative(fs::absolute(target), fs::absolute(from_dir), ec);
  return ec || r.empty() ? target : r.string();
}

}  // namespace

int run_compare_runs(const CommandArgs& args) {
  const std::string dir = args.run_dir.empty() && args.preset.empty()
                              ? "runs/compare-runs"
                              : default_run_dir("compare-runs", args);
  Config cfg = compare_runs_config();
  resolve_config(cfg, args);
  const std::vector<std::string> dirs = parse_names(cfg.get_string("compare.runs"));
  DIFFLAB_CHECK(!dirs.empty(), "compare.runs: give at least one run folder (comma-separated)");
  std::vector<std::string> labels = parse_labels(cfg.get_string("compare.labels"));
  if (labels.empty())
    for (const auto& d : dirs) labels.push_back(basename_of(d));
  DIFFLAB_CHECK(labels.size() == dirs.size(), "compare.labels: ", labels.size(), " labels for ",
                dirs.size(), " runs in compare.runs (one per run, ';'-separated, or none)");
  const std::vector<std::string> views =
      per_run_items(cfg.get_string("compare.views"), dirs.size(), "compare.views");
  const std::vector<std::string> grids =
      per_run_items(cfg.get_string("compare.grids"), dirs.size(), "compare.grids");
  std::vector<RunSummary> runs;
  std::set<std::string> known;
  for (size_t i = 0; i < dirs.size(); ++i) {
    runs.push_back(read_run(dirs[i], labels[i], views[i], grids[i]));
    DIFFLAB_CHECK(fs::weakly_canonical(dirs[i]) != fs::weakly_canonical(dir),
                  "compare-runs: the output folder '", dir,
                  "' is one of the compared runs; choose another --run");
    for (const auto& [name, row] : runs.back().last) known.insert(name);
  }
  std::vector<std::string> metrics = parse_names(cfg.get_string("compare.metrics"));
  if (metrics.empty()) metrics.assign(known.begin(), known.end());
  for (const auto& m : metrics) {
    std::string all;
    for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
    DIFFLAB_CHECK(known.count(m), "compare.metrics: no run logged '", m, "' (logged: ", all, ")");
  }

  RunLock lock(dir);
  RunFolder out(dir);
  out.write_config(cfg.resolved());
  Report rep(cfg.get_string("compare.title"));
  rep.paragraph(
      "Each cell is the last value a run logged for the metric, with the step at which "
      "it was logged; – marks a metric the run never logged. A run shown through a view "
      "(compare.views) reads each column from the metric the view names.");
  std::vector<std::string> header{"run", "folder"};
  header.insert(header.end(), metrics.begin(), metrics.end());
  std::vector<std::vector<std::string>> rows;
  for (const RunSummary& r : runs) {
    std::vector<std::string> row{r.label, r.view == "{}" ? r.dir : r.dir + " (" + r.view + ")"};
    for (const auto& m : metrics) {
      auto it = r.last.find(m);
      row.push_back(it == r.last.end() ? "–"
                                       : format_number(it->second.value) + " (step " +
                                             std::to_string(it->second.step) + ")");
    }
    rows.push_back(row);
  }
  rep.table(header, rows);
  for (const RunSummary& r : runs) {
    rep.heading(r.label);
    if (file_exists(r.dir + "/report.html"))
      rep.link("its own report: " + r.dir + "/report.html",
               relative_to(r.dir + "/report.html", dir));
    else
      rep.paragraph(r.dir + " has no report.html");
    if (r.grid.empty())
      rep.paragraph("No sample grid: " + r.dir + "/samples holds no PNG.");
    else
      rep.image(r.label + ": " + relative_to(r.grid, r.dir), read_file(r.grid));
    if (!r.config.is_null()) rep.config(r.config);
  }
  rep.heading("This comparison");
  rep.config(cfg.resolved());
  rep.write(dir + "/report.html");
  std::fprintf(stderr, "report: %s/report.html\n", dir.c_str());
  return 0;
}

}  // namespace difflab::experiments
