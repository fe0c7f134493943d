// Conversion between the structs of rpc/messages.h and their protobuf form
// (rpc/grpc/proto/taskgrid.proto), and between our Status codes and gRPC's.
//
// Every field is carried; bytes may hold NULs. FromProto of a JobDefinition
// fails (InvalidArgument) on an unknown Model value, the one field a peer
// can send out of our range.
//
// Thread-safety: free functions without shared state.
#ifndef TASKGRID_RPC_GRPC_GRPC_CONVERT_H_
#define TASKGRID_RPC_GRPC_GRPC_CONVERT_H_

#include <grpcpp/support/status.h>

#include <string>
#include <vector>

#include "rpc/grpc/proto/taskgrid.pb.h"
#include "rpc/messages.h"
#include "taskgrid/status.h"

namespace taskgrid {

void ToProto(const JobDefinition& in, pb::JobDefinition* out);
StatusOr<JobDefinition> FromProto(const pb::JobDefinition& in);

void ToProto(const WorkerInfo& in, pb::WorkerInfo* out);
WorkerInfo FromProto(const pb::WorkerInfo& in);

void ToProto(const TaskRef& in, pb::TaskRef* out);
TaskRef FromProto(const pb::TaskRef& in);

void ToProto(const TaskAssignment& in, pb::TaskAssignment* out);
TaskAssignment FromProto(const pb::TaskAssignment& in);

void ToProto(const FetchRequest& in, pb::FetchRequest* out);
FetchRequest FromProto(const pb::FetchRequest& in);

void ToProto(const FetchResponse& in, pb::FetchResponse* out);
FetchResponse FromProto(const pb::FetchResponse& in);

void ToProto(const TaskReport& in, pb::TaskReport* out);
TaskReport FromProto(const pb::TaskReport& in);

void ToProto(const ReportResponse& in, pb::ReportResponse* out);
ReportResponse FromProto(const pb::ReportResponse& in);

void ToProto(const HeartbeatRequest& in, pb::HeartbeatRequest* out);
HeartbeatRequest FromProto(const pb::HeartbeatRequest& in);

void ToProto(const HeartbeatResponse& in, pb::HeartbeatResponse* out);
HeartbeatResponse FromProto(const pb::HeartbeatResponse& in);

std::vector<TaskRef> FromProto(
    const google::protobuf::RepeatedPtrField<pb::TaskRef>& in);

// Status codes map 1:1 (both follow the canonical numbering of Abseil).
grpc::Status ToGrpcStatus(const Status& s);
Status FromGrpcStatus(const grpc::Status& s);

}  // namespace taskgrid

#endif  // TASKGRID_RPC_GRPC_GRPC_CONVERT_H_
