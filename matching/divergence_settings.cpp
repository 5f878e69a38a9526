#include "matching/divergence_settings.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "matching/divergence_registry.h"
#include "tensor/error.h"

namespace difflab::matching {

namespace {

// A whole-string finite number, or nothing.
bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(out);
}

int64_t parse_count(const std::string& key, const std::string& text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  DIFFLAB_CHECK(ec == std::errc() && ptr == text.data() + text.size() && v >= 1, key,
                ": bad value '", text, "' (expected an integer >= 1)");
  return v;
}

double parse_real(const std::string& key, const std::string& text, double lo, bool lo_open,
                  double hi, const char* allowed) {
  double v = 0;
  const bool ok = parse_number(text, v) && (lo_open ? v > lo : v >= lo) && v < hi;
  DIFFLAB_CHECK(ok, key, ": bad value '", text, "' (expected ", allowed, ")");
  return v;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Runs a parser whose error does not know the key, and puts the key in front of its message.
template <typename F>
void with_key(const std::string& key, F&& parse) {
  try {
    parse();
  } catch (const Error& e) {
    DIFFLAB_FAIL(key, ": ", e.what());
  }
}

// One entry per key: the setter and its help line, so the grammar and the help cannot drift.
struct KeySpec {
  const char* key;
  void (*apply)(DivergenceSettings&, const std::string& key, const std::string& value);
  std::string (*help)();
};

const double inf = HUGE_VAL;

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = {
      {"cdm.divergence",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         with_key(k, [&] { divergence_registry().find(v); });  // lists the registered names
         s.divergence = v;
       },
       [] {
         return "divergence to minimise: " + joined(divergence_registry().names()) +
                " (default mmd_u)";
       }},
      {"cdm.kernel",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         with_key(k, [&] { s.kernel = parse_kernel(v); });
       },
       [] {
         return std::string("MMD kernel: gaussian, laplace, imq or energy (default gaussian)");
       }},
      {"cdm.bandwidth",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         with_key(k, [&] { s.bandwidth = parse_bandwidth(v); });
       },
       [] {
         return std::string(
             "MMD kernel bandwidth: median, multi (5-bandwidth Gaussian mixture) or a number "
             "> 0 (default median; not with kernel energy)");
       }},
      {"cdm.projections",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         s.projections = parse_count(k, v);
       },
       [] {
         return std::string("sliced_w1/sliced_w2: number of random directions (default 128)");
       }},
      {"cdm.sinkhorn_epsilon",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         s.sinkhorn.epsilon = parse_real(k, v, 0, true, inf, "a number > 0");
       },
       [] {
         return std::string(
             "sinkhorn: entropic regularisation ε in units of ‖x−y‖^p/p, = geomloss blur^p "
             "(default 0.0025)");
       }},
      {"cdm.sinkhorn_p",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         DIFFLAB_CHECK(v == "1" || v == "2", k, ": bad value '", v, "' (expected 1 or 2)");
         s.sinkhorn.p = v == "1" ? 1 : 2;
       },
       [] { return std::string("sinkhorn: cost exponent p of ‖x−y‖^p/p, 1 or 2 (default 2)"); }},
      {"cdm.sinkhorn_iterations",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         s.sinkhorn.max_iterations = parse_count(k, v);
       },
       [] {
         return std::string("sinkhorn: cap on the updates, annealing included (default 1000)");
       }},
      {"cdm.sinkhorn_tolerance",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         s.sinkhorn.tolerance = parse_real(k, v, 0, false, inf, "a number >= 0");
       },
       [] {
         return std::string("sinkhorn: stop when no potential moves more than this (default 1e-6)");
       }},
      {"cdm.sinkhorn_scaling",
       [](DivergenceSettings& s, const std::string& k, const std::string& v) {
         s.sinkhorn.scaling = parse_real(k, v, 0, false, 1, "a number in [0, 1)");
       },
       [] {
         return std::string(
             "sinkhorn: ε-annealing factor per update from the largest cost, 0 = off "
             "(default 0.5)");
       }},
  };
  return specs;
}

std::vector<std::string> known_keys() {
  std::vector<std::string> keys;
  for (const auto& spec : key_specs()) keys.push_back(spec.key);
  return keys;
}

}  // namespace

bool apply_divergence_setting(DivergenceSettings& s, const std::string& key,
                              const std::string& value) {
  for (const auto& spec : key_specs()) {
    if (key != spec.key) continue;
    spec.apply(s, key, value);
    return true;
  }
  return false;
}

void validate_divergence_settings(const DivergenceSettings& s) {
  DIFFLAB_CHECK(s.bandwidth.mode != BandwidthMode::multi || s.kernel == KernelKind::gaussian,
                "cdm.bandwidth=multi is the Gaussian 5-bandwidth mixture; cdm.kernel=",
                kernel_name(s.kernel), " needs cdm.bandwidth=median or a number");
}

DivergenceSettings parse_divergence_settings(
    const std::vector<std::pair<std::string, std::string>>& key_values, DivergenceSettings base) {
  bool bandwidth_given = false;
  for (const auto& [key, value] : key_values) {
    DIFFLAB_CHECK(apply_divergence_setting(base, key, value), "unknown divergence setting '", key,
                  "' (known: ", joined(known_keys()), ")");
    bandwidth_given = bandwidth_given || key == "cdm.bandwidth";
  }
  DIFFLAB_CHECK(!(bandwidth_given && base.kernel == KernelKind::energy),
                "cdm.bandwidth is given but cdm.kernel=energy has no bandwidth; drop one of them");
  validate_divergence_settings(base);
  return base;
}

std::vector<SettingHelp> divergence_setting_help() {
  std::vector<SettingHelp> out;
  for (const auto& spec : key_specs()) out.push_back({spec.key, spec.help()});
  return out;
}

}  // namespace difflab::matching
