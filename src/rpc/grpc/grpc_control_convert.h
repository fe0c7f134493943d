// Conversion between the structs of ControlService (rpc/control.h,
// store/state_store.h) and their protobuf form (service Control in
// rpc/grpc/proto/taskgrid.proto).
//
// Every field is carried; bytes may hold NULs and need not be UTF-8. A peer
// may send anything, so the FromProto of a message holding a state returns
// InvalidArgument, naming the field and the value, for a TaskState or
// JobState it does not know, and for task counts longer than the states we
// know; it never crashes.
//
// Thread-safety: free functions without shared state.
#ifndef TASKGRID_RPC_GRPC_GRPC_CONTROL_CONVERT_H_
#define TASKGRID_RPC_GRPC_GRPC_CONTROL_CONVERT_H_

#include <cstdint>
#include <vector>

#include "rpc/control.h"
#include "rpc/grpc/proto/taskgrid.pb.h"
#include "store/state_store.h"
#include "taskgrid/status.h"

namespace taskgrid {

pb::TaskState ToProto(TaskState s);
StatusOr<TaskState> FromProto(pb::TaskState s);
pb::JobState ToProto(JobState s);
StatusOr<JobState> FromProto(pb::JobState s);

void ToProto(const JobRecord& in, pb::JobRecord* out);
StatusOr<JobRecord> FromProto(const pb::JobRecord& in);

void ToProto(const TaskRecord& in, pb::TaskRecord* out);
StatusOr<TaskRecord> FromProto(const pb::TaskRecord& in);

void ToProto(const LogLine& in, pb::LogLine* out);
LogLine FromProto(const pb::LogLine& in);

void ToProto(const TaskFilter& in, pb::TaskFilter* out);
StatusOr<TaskFilter> FromProto(const pb::TaskFilter& in);

void ToProto(const LeaderRecord& in, pb::LeaderRecord* out);
LeaderRecord FromProto(const pb::LeaderRecord& in);

void ToProto(const JobStatus& in, pb::JobStatus* out);
StatusOr<JobStatus> FromProto(const pb::JobStatus& in);

void ToProto(const WorkerStatus& in, pb::WorkerStatus* out);
WorkerStatus FromProto(const pb::WorkerStatus& in);

void ToProto(const ClusterStatus& in, pb::ClusterStatus* out);
ClusterStatus FromProto(const pb::ClusterStatus& in);

void ToProto(const SubmitJobRequest& in, pb::SubmitJobRequest* out);
SubmitJobRequest FromProto(const pb::SubmitJobRequest& in);

void ToProto(const SubmitJobResponse& in, pb::SubmitJobResponse* out);
SubmitJobResponse FromProto(const pb::SubmitJobResponse& in);

}  // namespace taskgrid

#endif  // TASKGRID_RPC_GRPC_GRPC_CONTROL_CONVERT_H_
