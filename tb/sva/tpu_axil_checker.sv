// tpu_axil_checker: the AXI4-Lite rules at one port, the single definition used by the simulations
// (bound to tpu_top's s_axil_* port by tpu_bind.sv) and by the formal proofs (tb/formal/).
//
// Parameters
//   AddrW, DataW  : port widths
//   AssumeMaster  : 1 = the rules on master-driven signals are `assume` (formal proof of a slave);
//                   0 = they are asserted (simulation: the testbench's master is checked too)
//   AssumeSlave   : the same for the slave-driven signals (formal proof of a master)
//   MaxPending    : most requests a slave holds accepted and unanswered per direction (0: no bound)
//   MaxWait       : a slave answers a request within MaxWait cycles of having it (while it is not
//                   already presenting a response); 0: no bound. Formal only: testbenches pause freely.
// Outputs: the request counters, so that proofs can relate them to the DUT's state.
//
// Rules (each assertion is named; a violation prints the name):
//   master: AwHold / WHold / ArHold    VALID stays high and the payload stable until READY
//   slave : BHold / RHold              the same for the responses
//           BOnlyAfterWrite            BVALID only for an accepted AW and an accepted W (earlier cycles)
//           ROnlyAfterRead             RVALID only for an accepted AR
//           WrPendBound / RdPendBound  at most MaxPending accepted, unanswered requests
//           BWait / RWait              the response comes within MaxWait cycles
// "Exactly one response per request" is BOnlyAfterWrite/ROnlyAfterRead (never more) with BWait/RWait
// (never fewer). Immediate assertions in a clocked block with a reset branch: Verilator, Yosys's
// read_slang and slang accept them alike.
module tpu_axil_checker #(
  parameter int AddrW        = 8,
  parameter int DataW        = 32,
  parameter bit AssumeMaster = 1'b0,
  parameter bit AssumeSlave  = 1'b0,
  parameter int MaxPending   = 0,
  parameter int MaxWait      = 0
) (
  input  logic               clk_i,
  input  logic               rst_ni,
  input  logic [AddrW-1:0]   awaddr,
  input  logic [2:0]         awprot,
  input  logic               awvalid,
  input  logic               awready,
  input  logic [DataW-1:0]   wdata,
  input  logic [DataW/8-1:0] wstrb,
  input  logic               wvalid,
  input  logic               wready,
  input  logic [1:0]         bresp,
  input  logic               bvalid,
  input  logic               bready,
  input  logic [AddrW-1:0]   araddr,
  input  logic [2:0]         arprot,
  input  logic               arvalid,
  input  logic               arready,
  input  logic [DataW-1:0]   rdata,
  input  logic [1:0]         rresp,
  input  logic               rvalid,
  input  logic               rready,
  output logic [3:0]         aw_pend_o,  // accepted AW not yet answered on B
  output logic [3:0]         w_pend_o,   // accepted W not yet answered on B
  output logic [3:0]         ar_pend_o   // accepted AR not yet answered on R
);

  logic aw_hs, w_hs, b_hs, ar_hs, r_hs;
  assign aw_hs = awvalid && awready;
  assign w_hs  = wvalid && wready;
  assign b_hs  = bvalid && bready;
  assign ar_hs = arvalid && arready;
  assign r_hs  = rvalid && rready;

  // Last cycle's values: a channel that was valid and not ready must look the same now.
  logic               aw_wait_q, w_wait_q, b_wait_q, ar_wait_q, r_wait_q;
  logic [AddrW-1:0]   awaddr_q, araddr_q;
  logic [2:0]         awprot_q, arprot_q;
  logic [DataW-1:0]   wdata_q, rdata_q;
  logic [DataW/8-1:0] wstrb_q;
  logic [1:0]         bresp_q, rresp_q;
  logic [3:0]         aw_pend_q, w_pend_q, ar_pend_q;
  logic [7:0]         b_age_q, r_age_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      aw_wait_q <= 1'b0;
      w_wait_q  <= 1'b0;
      b_wait_q  <= 1'b0;
      ar_wait_q <= 1'b0;
      r_wait_q  <= 1'b0;
      awaddr_q  <= '0;
      araddr_q  <= '0;
      awprot_q  <= '0;
      arprot_q  <= '0;
      wdata_q   <= '0;
      rdata_q   <= '0;
      wstrb_q   <= '0;
      bresp_q   <= '0;
      rresp_q   <= '0;
      aw_pend_q <= '0;
      w_pend_q  <= '0;
      ar_pend_q <= '0;
      b_age_q   <= '0;
      r_age_q   <= '0;
    end else begin
      aw_wait_q <= awvalid && !awready;
      w_wait_q  <= wvalid && !wready;
      b_wait_q  <= bvalid && !bready;
      ar_wait_q <= arvalid && !arready;
      r_wait_q  <= rvalid && !rready;
      awaddr_q  <= awaddr;
      araddr_q  <= araddr;
      awprot_q  <= awprot;
      arprot_q  <= arprot;
      wdata_q   <= wdata;
      rdata_q   <= rdata;
      wstrb_q   <= wstrb;
      bresp_q   <= bresp;
      rresp_q   <= rresp;
      aw_pend_q <= aw_pend_q + 4'(aw_hs) - 4'(b_hs);
      w_pend_q  <= w_pend_q + 4'(w_hs) - 4'(b_hs);
      ar_pend_q <= ar_pend_q + 4'(ar_hs) - 4'(r_hs);
      b_age_q   <= (aw_pend_q != '0 && w_pend_q != '0 && !bvalid) ? b_age_q + 8'd1 : 8'd0;
      r_age_q   <= (ar_pend_q != '0 && !rvalid) ? r_age_q + 8'd1 : 8'd0;
    end
  end

  assign aw_pend_o = aw_pend_q;
  assign w_pend_o  = w_pend_q;
  assign ar_pend_o = ar_pend_q;

  // ---- The rules as booleans, then asserted or assumed -------------------------------------------
  logic ok_aw_hold, ok_w_hold, ok_ar_hold, ok_b_hold, ok_r_hold, ok_b_req, ok_r_req;
  logic ok_wr_bound, ok_rd_bound, ok_b_wait, ok_r_wait;
  assign ok_aw_hold  = !aw_wait_q || (awvalid && awaddr == awaddr_q && awprot == awprot_q);
  assign ok_w_hold   = !w_wait_q || (wvalid && wdata == wdata_q && wstrb == wstrb_q);
  assign ok_ar_hold  = !ar_wait_q || (arvalid && araddr == araddr_q && arprot == arprot_q);
  assign ok_b_hold   = !b_wait_q || (bvalid && bresp == bresp_q);
  assign ok_r_hold   = !r_wait_q || (rvalid && rdata == rdata_q && rresp == rresp_q);
  assign ok_b_req    = !bvalid || (aw_pend_q != '0 && w_pend_q != '0);
  assign ok_r_req    = !rvalid || ar_pend_q != '0;
  assign ok_wr_bound = MaxPending == 0 || (32'(aw_pend_q) <= MaxPending && 32'(w_pend_q) <= MaxPending);
  assign ok_rd_bound = MaxPending == 0 || 32'(ar_pend_q) <= MaxPending;
  assign ok_b_wait   = MaxWait == 0 || 32'(b_age_q) < MaxWait;
  assign ok_r_wait   = MaxWait == 0 || 32'(r_age_q) < MaxWait;

  if (AssumeMaster) begin : g_master_assume
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        // nothing is checked in reset
      end else begin
        AwHold: assume (ok_aw_hold);
        WHold: assume (ok_w_hold);
        ArHold: assume (ok_ar_hold);
      end
    end
  end else begin : g_master_assert
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        // nothing is checked in reset
      end else begin
        AwHold: assert (ok_aw_hold) else $error("AwHold: AWVALID dropped or AW payload changed before AWREADY");
        WHold: assert (ok_w_hold) else $error("WHold: WVALID dropped or W payload changed before WREADY");
        ArHold: assert (ok_ar_hold) else $error("ArHold: ARVALID dropped or AR payload changed before ARREADY");
      end
    end
  end

  if (AssumeSlave) begin : g_slave_assume
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        // nothing is checked in reset
      end else begin
        BHold: assume (ok_b_hold);
        RHold: assume (ok_r_hold);
        BOnlyAfterWrite: assume (ok_b_req);
        ROnlyAfterRead: assume (ok_r_req);
        WrPendBound: assume (ok_wr_bound);
        RdPendBound: assume (ok_rd_bound);
        BWait: assume (ok_b_wait);
        RWait: assume (ok_r_wait);
      end
    end
  end else begin : g_slave_assert
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        // nothing is checked in reset
      end else begin
        BHold: assert (ok_b_hold) else $error("BHold: BVALID dropped or BRESP changed before BREADY");
        RHold: assert (ok_r_hold) else $error("RHold: RVALID dropped or R payload changed before RREADY");
        BOnlyAfterWrite: assert (ok_b_req) else $error("BOnlyAfterWrite: BVALID without an accepted AW and W");
        ROnlyAfterRead: assert (ok_r_req) else $error("ROnlyAfterRead: RVALID without an accepted AR");
        WrPendBound: assert (ok_wr_bound) else $error("WrPendBound: more than %0d writes pending", MaxPending);
        RdPendBound: assert (ok_rd_bound) else $error("RdPendBound: more than %0d reads pending", MaxPending);
        BWait: assert (ok_b_wait) else $error("BWait: no write response within %0d cycles", MaxWait);
        RWait: assert (ok_r_wait) else $error("RWait: no read response within %0d cycles", MaxWait);
      end
    end
  end

endmodule
