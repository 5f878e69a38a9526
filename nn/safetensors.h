// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// size N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}} padded with spaces to a multiple of 8, then the raw
// little-endian tensor bytes (here in sorted-name order, offsets relative to the data start).
// Files are written to a temporary name, fsynced and renamed, so an interrupted save never
// leaves a half-written checkpoint. Loading validates everything and names the file and key.
#pragma once
#include <map>
#include <string>

#include "nn/module.h"

namespace difflab::nn {

using Metadata = std::map<std::string, std::string>;

struct SafeTensors {
  std::map<std::string, Tensor> tensors;
  Metadata metadata;
};

// The file's bytes. Dtypes F32, F64, I64, U8; tensors on other devices are copied to the CPU.
std::string encode_safetensors(const std::map<std::string, Tensor>& tensors,
                               const Metadata& metadata = {});
// Parses bytes; `source` (a file name) is named in every error.
SafeTensors decode_safetensors(const std::string& bytes, const std::string& source);

// Atomic write (temporary file, fsync, rename); creates missing parent directories.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const Metadata& metadata = {});
SafeTensors load_safetensors(const std::string& path);

// A module's state_dict (PyTorch dotted names) with metadata, e.g. the model config as JSON.
void save_module(const std::string& path, const Module& module, const Metadata& metadata = {});
// Loads into `module` (load_state_dict: shape/dtype mismatches name the key) and returns the
// file's metadata; errors also name the file.
Metadata load_module(const std::string& path, Module& module, bool strict = true);

}  // namespace difflab::nn
