// A sealed output file of a task attempt, as reported and recorded.
#ifndef TASKGRID_CORE_OUTPUT_FILE_H_
#define TASKGRID_CORE_OUTPUT_FILE_H_

#include <cstdint>
#include <string>

namespace taskgrid {

struct OutputFileInfo {
  std::string name;  // plain file name within the output directory
  int64_t bytes = 0;
  uint32_t crc32 = 0;  // CRC-32 (gzip polynomial) of the content
};

}  // namespace taskgrid

#endif  // TASKGRID_CORE_OUTPUT_FILE_H_
