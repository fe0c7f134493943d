// CSV (RFC 4180) field quoting, shared by every CSV taskgrid writes.
#ifndef TASKGRID_CORE_CSV_H_
#define TASKGRID_CORE_CSV_H_

#include <string>
#include <string_view>

namespace taskgrid {

// `field` as it appears in a CSV line: quoted (with quotes doubled) when it
// contains a comma, a double quote, CR or LF; verbatim otherwise.
inline std::string CsvField(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(field);
  }
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace taskgrid

#endif  // TASKGRID_CORE_CSV_H_
