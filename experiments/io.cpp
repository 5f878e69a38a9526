#include "experiments/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nn/file_io.h"
#include "tensor/error.h"

namespace difflab::experiments {

namespace fs = std::filesystem;

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  DIFFLAB_CHECK(!ec, "cannot create directory '", path, "': ", ec.message());
}

void write_file_atomic(const std::string& path, const std::string& data) {
  nn::write_file_atomic(path, data, "write");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DIFFLAB_CHECK(in.good(), "cannot open '", path, "': ", std::strerror(errno));
  std::ostringstream os;
  os << in.rdbuf();
  DIFFLAB_CHECK(!in.bad(), "error reading '", path, "'");
  return os.str();
}

bool file_exists(const std::string& path) { return fs::exists(path); }

}  // namespace difflab::experiments
