#include "taskgrid/taskgrid.h"

int main(int argc, char** argv) { return taskgrid::Main(argc, argv); }
