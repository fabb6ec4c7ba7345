// tpu_delay: a Depth-stage shift register (Depth = 0 is a wire), used for the input staircase, the
// weight-port staircase and the output de-skew of the systolic array.
//
// Ports
//   clk_i, rst_ni : clock, asynchronous active-low reset (clears every stage)
//   d_i           : value entering the line
//   q_o           : d_i as it was Depth edges earlier (d_i itself when Depth = 0)
//
// The line shifts on every edge, valid or not: the array relies on fixed delays, so an enable here
// would make a stage's latency depend on traffic.
module tpu_delay #(
  parameter int Width = 1,
  parameter int Depth = 1
) (
  input  logic             clk_i,
  input  logic             rst_ni,
  input  logic [Width-1:0] d_i,
  output logic [Width-1:0] q_o
);

  if (Depth == 0) begin : g_wire
    assign q_o = d_i;
    // Without a stage the clock and reset have nothing to drive; the ports stay for a uniform instance.
    /* verilator lint_off UNUSEDSIGNAL */
    logic unused_clk_rst;
    assign unused_clk_rst = clk_i ^ rst_ni;
    /* verilator lint_on UNUSEDSIGNAL */
  end else begin : g_line
    logic [Depth-1:0][Width-1:0] stage_q;

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        stage_q <= '0;
      end else begin
        stage_q[0] <= d_i;
        for (int k = 1; k < Depth; k++) begin
          stage_q[k] <= stage_q[k-1];
        end
      end
    end

    assign q_o = stage_q[Depth-1];
  end

endmodule
