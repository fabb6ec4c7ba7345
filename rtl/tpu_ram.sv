// tpu_ram: a generic synchronous single-write, single-read RAM (the core's IMEM, UB, WMEM, ACC).
//
// Ports
//   clk_i    : clock (the array has no reset: memories keep their contents across a core reset)
//   we_i     : write wdata_i to waddr_i at this edge
//   waddr_i, wdata_i
//   re_i     : read raddr_i at this edge; rdata_o holds the word from the edge on, until the next read
//   raddr_i
//   rdata_o  : registered read data (one cycle latency)
//
// A read and a write of the same address at the same edge return the OLD word (read first); the core
// forwards around this where it matters (ACC accumulate, tpu_munit). Callers never present an address
// at or past Depth: every range is checked before an instruction or host access starts.
module tpu_ram #(
  parameter int Width = 32,
  parameter int Depth = 16,
  parameter int Aw    = (Depth > 1) ? $clog2(Depth) : 1  // derived: do not override
) (
  input  logic             clk_i,
  input  logic             we_i,
  input  logic [Aw-1:0]    waddr_i,
  input  logic [Width-1:0] wdata_i,
  input  logic             re_i,
  input  logic [Aw-1:0]    raddr_i,
  output logic [Width-1:0] rdata_o
);

  logic [Width-1:0] mem_q [Depth];
  logic [Width-1:0] rdata_q;

  always_ff @(posedge clk_i) begin
    if (we_i) begin
      mem_q[waddr_i] <= wdata_i;
    end
    if (re_i) begin
      rdata_q <= mem_q[raddr_i];
    end
  end

  assign rdata_o = rdata_q;

endmodule
