// Atomic file writes for checkpoints, caches and run folders: a temporary name, fsync, then
// rename, so a reader (or a resumed run after a crash) sees either the old file or the complete
// new one, never a half-written file.
#pragma once
#include <string>

namespace difflab::nn {

// Creates missing parent directories; errors name `op` and the path.
void write_file_atomic(const std::string& path, const std::string& data,
                       const char* op = "write");

}  // namespace difflab::nn
