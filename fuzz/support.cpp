#include "fuzz/support.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "experiments/command.h"
#include "experiments/ddpm_model.h"
#include "fuzz/targets.h"
#include "nn/layers.h"
#include "tensor/factory.h"
#include "tensor/random.h"

namespace difflab::fuzz {

namespace {

// Removes the scratch files when the process exits normally (libFuzzer's -max_total_time and
// -runs end through exit()).
struct ScratchFiles {
  std::map<std::string, std::string> by_tag;
  ~ScratchFiles() {
    std::error_code ec;
    for (auto& [tag, path] : by_tag) std::filesystem::remove(path, ec);
  }
};

ScratchFiles& scratch() {
  static ScratchFiles s;
  return s;
}

class Tiny : public nn::Module {
 public:
  Tiny() {
    tensor::Generator gen(7);
    register_module("lin", std::make_shared<nn::Linear>(3, 2, true, &gen));
    register_buffer("count", tensor::scalar_tensor(3, tensor::DType::i64));
  }
};

}  // namespace

void finding(const std::string& what) {
  std::fprintf(stderr, "difflab fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

void expect_message(const Error& e, const char* reader) {
  if (std::strlen(e.what()) == 0)
    finding(std::string(reader) + " threw difflab::Error with an empty message");
}

std::string scratch_file(const char* tag, const uint8_t* data, size_t size) {
  std::string& path = scratch().by_tag[tag];
  if (path.empty())
    path = (std::filesystem::temp_directory_path() /
            ("difflab_fuzz_" + std::to_string(::getpid()) + "_" + tag))
               .string();
  // Overwritten in place and then cut to size: truncating to 0 and writing again makes ext4
  // flush the data on close (its auto_da_alloc heuristic), 3 ms per run instead of microseconds.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (size_t done = 0; ok && done < size;) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, off_t(done));
    ok = n > 0;
    done += ok ? size_t(n) : 0;
  }
  ok = ok && ::ftruncate(fd, off_t(size)) == 0;
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  if (!ok) finding("cannot write the scratch file " + path + ": " + std::strerror(errno));
  return path;
}

std::string scratch_file(const char* tag, const std::string& bytes) {
  return scratch_file(tag, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::shared_ptr<nn::Module> make_tiny_module() { return std::make_shared<Tiny>(); }

experiments::Config ddpm_command_config() {
  experiments::Config cfg = experiments::ddpm_config();
  experiments::resolve_config(cfg, experiments::CommandArgs{});
  return cfg;
}

std::span<const Target> targets() {
  static const Target all[] = {
      {"safetensors", fuzz_safetensors}, {"config", fuzz_config}, {"mnist", fuzz_mnist}};
  return all;
}

}  // namespace difflab::fuzz
