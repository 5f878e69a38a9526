// Fuzz target for the config parser: a JSON file plus `--set key=value` strings, on the keys
// every DDPM command declares.
#include <string>

#include "fuzz/support.h"
#include "fuzz/targets.h"

namespace difflab::fuzz {

int fuzz_config(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  size_t end = in.find('\0');
  const std::string text = in.substr(0, end);
  experiments::Config cfg = ddpm_command_config();
  if (!text.empty()) {
    try {
      cfg.load_file(scratch_file("config.json", text));
    } catch (const Error& e) {
      expect_message(e, "Config::load_file");
    }
  }
  // A command line carries a few --set options; more only make each run slower (an unknown
  // key costs an edit distance to every declared key).
  for (int sets = 0; end != std::string::npos && sets < 32; ++sets) {
    const size_t next = in.find('\0', end + 1);
    const std::string assignment =
        in.substr(end + 1, next == std::string::npos ? std::string::npos : next - end - 1);
    try {
      cfg.set(assignment);
    } catch (const Error& e) {
      expect_message(e, "Config::set");
    }
    end = next;
  }
  // A run records resolved() in config.json and `difflab sample` reads it back: whatever the
  // parser accepted must load again unchanged.
  const nlohmann::json resolved = cfg.resolved();
  experiments::Config again = ddpm_command_config();
  try {
    again.load_json(resolved, "resolved config");
  } catch (const Error& e) {
    finding(std::string("the resolved config does not load back: ") + e.what());
  }
  if (again.resolved() != resolved) finding("the resolved config loads back different");
  (void)cfg.help();
  return 0;
}

}  // namespace difflab::fuzz
