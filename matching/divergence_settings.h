// Everything a registered divergence may read, and the one string grammar that fills it (for
// `difflab cdm` and any other command that lets a config pick the divergence):
//   cdm.divergence=<registered name>            (divergence_registry().names())
//   cdm.kernel=gaussian|laplace|imq|energy      (MMD kinds)
//   cdm.bandwidth=median|multi|<number > 0>     (MMD kinds; multi only with gaussian)
//   cdm.projections=<integer ≥ 1>               (sliced kinds)
//   cdm.sinkhorn_epsilon=<number > 0>           (ε in cost units = geomloss blur^p)
//   cdm.sinkhorn_p=1|2
//   cdm.sinkhorn_iterations=<integer ≥ 1>
//   cdm.sinkhorn_tolerance=<number ≥ 0>
//   cdm.sinkhorn_scaling=<number in [0, 1)>
// Keys that the chosen divergence does not read are accepted and ignored, so a config can keep
// settings for several divergences while switching cdm.divergence. Contradictions within one
// kernel are refused: cdm.bandwidth together with cdm.kernel=energy (which has no bandwidth),
// and cdm.bandwidth=multi with a kernel other than gaussian. (The C++ struct itself simply
// ignores `bandwidth` for the energy kernel.)
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "matching/bandwidth.h"
#include "matching/kernels.h"
#include "matching/sinkhorn.h"

namespace difflab::matching {

struct DivergenceSettings {
  std::string divergence = "mmd_u";  // a name in the registry
  KernelKind kernel = KernelKind::gaussian;
  Bandwidth bandwidth{};      // median by default
  int64_t projections = 128;  // sliced_w1 / sliced_w2
  SinkhornOptions sinkhorn{};
  // Out-parameter: when set, the sinkhorn divergence writes its convergence report here (a
  // pointer, not registry state, so concurrent calls do not share a "last report").
  SinkhornReport* sinkhorn_report = nullptr;
};

// Sets the field of one key. Returns false, changing nothing, when `key` is not one of the keys
// above (a command routes its other cdm.* keys elsewhere); throws difflab::Error naming the key,
// the bad value and the allowed ones when the value does not parse.
bool apply_divergence_setting(DivergenceSettings& s, const std::string& key,
                              const std::string& value);

// Applies every pair over `base`, in order; throws on a key that is not a divergence key (listing
// the known ones) and on the contradictions described above.
DivergenceSettings parse_divergence_settings(
    const std::vector<std::pair<std::string, std::string>>& key_values,
    DivergenceSettings base = {});

// Checks the combination (multi with a non-Gaussian kernel); parse_divergence_settings calls it.
void validate_divergence_settings(const DivergenceSettings& s);

struct SettingHelp {
  std::string key;   // e.g. "cdm.kernel"
  std::string help;  // one line: allowed values and default
};
// One line per key, in the order above; the divergence line lists the registry's current names.
std::vector<SettingHelp> divergence_setting_help();

}  // namespace difflab::matching
