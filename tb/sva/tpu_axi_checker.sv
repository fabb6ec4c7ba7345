// tpu_axi_checker: the AXI4 rules at one port with in-order responses (one ID), the single definition
// used by the simulations (bound to tpu_top's m_axi_* port by tpu_bind.sv) and by the formal proof of
// tpu_dma (tb/formal/fv_dma.sv).
//
// Parameters
//   AddrW, DataW, IdW : port widths
//   MaxBurst          : AxLEN + 1 never exceeds it; AxSIZE must be the full bus width, AxBURST INCR
//   MaxOutstanding    : bursts accepted and not yet answered (B, or R with RLAST), per direction
//   AssumeMaster      : 1 = the rules on master-driven signals are `assume`, 0 = asserted
//   AssumeSlave       : the same for the slave-driven signals (the formal proof of a master sets it)
//   MaxWait           : slave fairness, formal only (0: none): READY within MaxWait cycles of VALID,
//                       the B of a complete write burst and the next R beat of an accepted read within
//                       MaxWait cycles
// Simulation switch: `slave_rules_on` (a variable, 1 from time 0) gates the asserted slave rules; a test
// whose slave breaks the protocol on purpose (tb/top/test_host.py rlast_protocol) clears it through its
// handle. It exists only in the asserted branch (a formal proof assumes the slave rules instead).
// Outputs: the transaction counters, so that a proof can relate them to the DUT's state.
//
// Rules (each assertion is named; a violation prints the name):
//   master: AwHold / ArHold / WHold      VALID stays high and the payload stable until READY
//           AwBurst / ArBurst            INCR, full-width size, at most MaxBurst beats
//           Aw4k / Ar4k                  no burst crosses a 4 KiB boundary
//           WLastBeat                    WLAST exactly on the last beat of each write burst
//           WAfterAw                     a W beat only once its burst's AW is presented (the DMA's rule)
//           AwOutstanding / ArOutstanding at most MaxOutstanding bursts in flight
//   slave : BHold / RHold                the same holding rule for the responses
//           BOnlyAfterWrite              BVALID only for an accepted AW whose W burst is complete
//           ROnlyAfterRead               RVALID only for an accepted AR
//           RLastBeat                    RLAST exactly on the last beat of each read burst
//           AwWait / WWait / ArWait / BWait / RWait  (MaxWait > 0 only)
module tpu_axi_checker #(
  parameter int AddrW          = 32,
  parameter int DataW          = 64,
  parameter int IdW            = 4,
  parameter int MaxBurst       = 16,
  parameter int MaxOutstanding = 4,
  parameter bit AssumeMaster   = 1'b0,
  parameter bit AssumeSlave    = 1'b0,
  parameter int MaxWait        = 0
) (
  input  logic               clk_i,
  input  logic               rst_ni,
  input  logic [IdW-1:0]     awid,
  input  logic [AddrW-1:0]   awaddr,
  input  logic [7:0]         awlen,
  input  logic [2:0]         awsize,
  input  logic [1:0]         awburst,
  input  logic               awvalid,
  input  logic               awready,
  input  logic [DataW-1:0]   wdata,
  input  logic [DataW/8-1:0] wstrb,
  input  logic               wlast,
  input  logic               wvalid,
  input  logic               wready,
  input  logic [1:0]         bresp,
  input  logic               bvalid,
  input  logic               bready,
  input  logic [IdW-1:0]     arid,
  input  logic [AddrW-1:0]   araddr,
  input  logic [7:0]         arlen,
  input  logic [2:0]         arsize,
  input  logic [1:0]         arburst,
  input  logic               arvalid,
  input  logic               arready,
  input  logic [DataW-1:0]   rdata,
  input  logic [1:0]         rresp,
  input  logic               rlast,
  input  logic               rvalid,
  input  logic               rready,
  output logic [7:0]         aw_n_o,     // AW handshakes (wrapping counters)
  output logic [7:0]         wb_n_o,     // W bursts completed (WLAST handshakes)
  output logic [7:0]         b_n_o,      // B handshakes
  output logic [7:0]         ar_n_o,     // AR handshakes
  output logic [7:0]         rb_n_o,     // read bursts completed (RLAST handshakes)
  output logic [7:0]         wbeat_o,    // W beats of the current write burst so far
  output logic [7:0]         rbeat_o     // R beats of the current read burst so far
);

  localparam int Size = $clog2(DataW / 8);
  localparam int QW   = $clog2(MaxOutstanding) > 0 ? $clog2(MaxOutstanding) : 1;
  localparam int Q    = 1 << QW;  // burst-length queue entries (>= MaxOutstanding, a power of two)

  logic aw_hs, w_hs, b_hs, ar_hs, r_hs;
  assign aw_hs = awvalid && awready;
  assign w_hs  = wvalid && wready;
  assign b_hs  = bvalid && bready;
  assign ar_hs = arvalid && arready;
  assign r_hs  = rvalid && rready;

  logic               aw_wait_q, w_wait_q, b_wait_q, ar_wait_q, r_wait_q;
  logic [IdW-1:0]     awid_q, arid_q;
  logic [AddrW-1:0]   awaddr_q, araddr_q;
  logic [7:0]         awlen_q, arlen_q;
  logic [2:0]         awsize_q, arsize_q;
  logic [1:0]         awburst_q, arburst_q, bresp_q, rresp_q;
  logic [DataW-1:0]   wdata_q, rdata_q;
  logic [DataW/8-1:0] wstrb_q;
  logic               wlast_q, rlast_q;
  logic [7:0]         aw_n_q, wb_n_q, b_n_q, ar_n_q, rb_n_q, wbeat_q, rbeat_q;
  logic [7:0]         awlen_fifo_q [Q];
  logic [7:0]         arlen_fifo_q [Q];
  logic [7:0]         aw_age_q, w_age_q, ar_age_q, b_age_q, r_age_q;

  // The length of the write burst that W is sending: from the queue when its AW was accepted, else
  // the AW presented now; none when W is ahead of every presented AW.
  logic [7:0] w_len, r_len, aw_inflight, ar_inflight, w_ahead, b_ready_cnt;
  logic       w_known;
  assign aw_inflight = aw_n_q - b_n_q;
  assign ar_inflight = ar_n_q - rb_n_q;
  assign w_ahead     = aw_n_q - wb_n_q;   // accepted AWs whose W burst is not complete
  assign b_ready_cnt = wb_n_q - b_n_q;    // complete W bursts not yet answered
  assign w_known     = (w_ahead != '0 && w_ahead <= 8'(Q)) || (w_ahead == '0 && awvalid);
  assign w_len       = w_ahead != '0 ? awlen_fifo_q[wb_n_q[QW-1:0]] : awlen;
  assign r_len       = arlen_fifo_q[rb_n_q[QW-1:0]];

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      aw_wait_q <= 1'b0;
      w_wait_q  <= 1'b0;
      b_wait_q  <= 1'b0;
      ar_wait_q <= 1'b0;
      r_wait_q  <= 1'b0;
      awid_q    <= '0;
      arid_q    <= '0;
      awaddr_q  <= '0;
      araddr_q  <= '0;
      awlen_q   <= '0;
      arlen_q   <= '0;
      awsize_q  <= '0;
      arsize_q  <= '0;
      awburst_q <= '0;
      arburst_q <= '0;
      bresp_q   <= '0;
      rresp_q   <= '0;
      wdata_q   <= '0;
      rdata_q   <= '0;
      wstrb_q   <= '0;
      wlast_q   <= 1'b0;
      rlast_q   <= 1'b0;
      aw_n_q    <= '0;
      wb_n_q    <= '0;
      b_n_q     <= '0;
      ar_n_q    <= '0;
      rb_n_q    <= '0;
      wbeat_q   <= '0;
      rbeat_q   <= '0;
      aw_age_q  <= '0;
      w_age_q   <= '0;
      ar_age_q  <= '0;
      b_age_q   <= '0;
      r_age_q   <= '0;
      for (int i = 0; i < Q; i++) begin
        awlen_fifo_q[i] <= '0;
        arlen_fifo_q[i] <= '0;
      end
    end else begin
      aw_wait_q <= awvalid && !awready;
      w_wait_q  <= wvalid && !wready;
      b_wait_q  <= bvalid && !bready;
      ar_wait_q <= arvalid && !arready;
      r_wait_q  <= rvalid && !rready;
      awid_q    <= awid;
      arid_q    <= arid;
      awaddr_q  <= awaddr;
      araddr_q  <= araddr;
      awlen_q   <= awlen;
      arlen_q   <= arlen;
      awsize_q  <= awsize;
      arsize_q  <= arsize;
      awburst_q <= awburst;
      arburst_q <= arburst;
      bresp_q   <= bresp;
      rresp_q   <= rresp;
      wdata_q   <= wdata;
      rdata_q   <= rdata;
      wstrb_q   <= wstrb;
      wlast_q   <= wlast;
      rlast_q   <= rlast;
      if (aw_hs) begin
        awlen_fifo_q[aw_n_q[QW-1:0]] <= awlen;
        aw_n_q <= aw_n_q + 8'd1;
      end
      if (ar_hs) begin
        arlen_fifo_q[ar_n_q[QW-1:0]] <= arlen;
        ar_n_q <= ar_n_q + 8'd1;
      end
      if (w_hs) begin
        wbeat_q <= wlast ? 8'd0 : wbeat_q + 8'd1;
        if (wlast) wb_n_q <= wb_n_q + 8'd1;
      end
      if (r_hs) begin
        rbeat_q <= rlast ? 8'd0 : rbeat_q + 8'd1;
        if (rlast) rb_n_q <= rb_n_q + 8'd1;
      end
      if (b_hs) b_n_q <= b_n_q + 8'd1;
      aw_age_q <= (awvalid && !awready) ? aw_age_q + 8'd1 : 8'd0;
      w_age_q  <= (wvalid && !wready) ? w_age_q + 8'd1 : 8'd0;
      ar_age_q <= (arvalid && !arready) ? ar_age_q + 8'd1 : 8'd0;
      b_age_q  <= (aw_inflight != '0 && b_ready_cnt != '0 && !bvalid) ? b_age_q + 8'd1 : 8'd0;
      r_age_q  <= (ar_inflight != '0 && !rvalid) ? r_age_q + 8'd1 : 8'd0;
    end
  end

  assign aw_n_o  = aw_n_q;
  assign wb_n_o  = wb_n_q;
  assign b_n_o   = b_n_q;
  assign ar_n_o  = ar_n_q;
  assign rb_n_o  = rb_n_q;
  assign wbeat_o = wbeat_q;
  assign rbeat_o = rbeat_q;

  function automatic logic burst_ok(input logic [7:0] len, input logic [2:0] size, input logic [1:0] kind);
    burst_ok = kind == 2'b01 && size == 3'(Size) && 32'(len) < MaxBurst;
  endfunction
  function automatic logic in_4k(input logic [11:0] addr, input logic [7:0] len);
    in_4k = ({1'b0, addr} + ((13'(len) + 13'd1) << Size)) <= 13'h1000;
  endfunction

  logic ok_aw_hold, ok_ar_hold, ok_w_hold, ok_aw_burst, ok_ar_burst, ok_aw_4k, ok_ar_4k;
  logic ok_wlast, ok_w_after_aw, ok_aw_out, ok_ar_out;
  logic ok_b_hold, ok_r_hold, ok_b_req, ok_r_req, ok_rlast;
  logic ok_aw_wait, ok_w_wait, ok_ar_wait, ok_b_wait, ok_r_wait;
  assign ok_aw_hold = !aw_wait_q || (awvalid && awid == awid_q && awaddr == awaddr_q && awlen == awlen_q
                                     && awsize == awsize_q && awburst == awburst_q);
  assign ok_ar_hold = !ar_wait_q || (arvalid && arid == arid_q && araddr == araddr_q && arlen == arlen_q
                                     && arsize == arsize_q && arburst == arburst_q);
  assign ok_w_hold  = !w_wait_q || (wvalid && wdata == wdata_q && wstrb == wstrb_q && wlast == wlast_q);
  assign ok_aw_burst   = !awvalid || burst_ok(awlen, awsize, awburst);
  assign ok_ar_burst   = !arvalid || burst_ok(arlen, arsize, arburst);
  assign ok_aw_4k      = !awvalid || in_4k(awaddr[11:0], awlen);
  assign ok_ar_4k      = !arvalid || in_4k(araddr[11:0], arlen);
  // More accepted AWs ahead of W than the queue holds is AwOutstanding's to report (W has its AW).
  assign ok_w_after_aw = !wvalid || w_known || (w_ahead > 8'(Q) && w_ahead < 8'h80);
  assign ok_wlast      = !(wvalid && w_known) || wlast == (wbeat_q == w_len);
  assign ok_aw_out     = 32'(aw_inflight) <= MaxOutstanding;
  assign ok_ar_out     = 32'(ar_inflight) <= MaxOutstanding;
  assign ok_b_hold  = !b_wait_q || (bvalid && bresp == bresp_q);
  assign ok_r_hold  = !r_wait_q || (rvalid && rdata == rdata_q && rresp == rresp_q && rlast == rlast_q);
  assign ok_b_req   = !bvalid || (aw_inflight != '0 && b_ready_cnt != '0);
  assign ok_r_req   = !rvalid || ar_inflight != '0;
  assign ok_rlast   = !(rvalid && ar_inflight != '0) || rlast == (rbeat_q == r_len);
  assign ok_aw_wait = MaxWait == 0 || 32'(aw_age_q) < MaxWait;
  assign ok_w_wait  = MaxWait == 0 || 32'(w_age_q) < MaxWait;
  assign ok_ar_wait = MaxWait == 0 || 32'(ar_age_q) < MaxWait;
  assign ok_b_wait  = MaxWait == 0 || 32'(b_age_q) < MaxWait;
  assign ok_r_wait  = MaxWait == 0 || 32'(r_age_q) < MaxWait;

  if (AssumeMaster) begin : g_master_assume
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        // nothing is checked in reset
      end else begin
        AwHold: assume (ok_aw_hold);
        ArHold: assume (ok_ar_hold);
        WHold: assume (ok_w_hold);
        AwBurst: assume (ok_aw_burst);
        ArBurst: assume (ok_ar_burst);
        Aw4k: assume (ok_aw_4k);
        Ar4k: assume (ok_ar_4k);
        WAfterAw: assume (ok_w_after_aw);
        WLastBeat: assume (ok_wlast);
        AwOutstanding: assume (ok_aw_out);
        ArOutstanding: assume (ok_ar_out);
      end
    end
  end else begin : g_master_assert
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        // nothing is checked in reset
      end else begin
        AwHold: assert (ok_aw_hold) else $error("AwHold: AWVALID dropped or AW payload changed before AWREADY");
        ArHold: assert (ok_ar_hold) else $error("ArHold: ARVALID dropped or AR payload changed before ARREADY");
        WHold: assert (ok_w_hold) else $error("WHold: WVALID dropped or W payload changed before WREADY");
        AwBurst: assert (ok_aw_burst) else $error("AwBurst: AW not INCR, not full width or longer than %0d", MaxBurst);
        ArBurst: assert (ok_ar_burst) else $error("ArBurst: AR not INCR, not full width or longer than %0d", MaxBurst);
        Aw4k: assert (ok_aw_4k) else $error("Aw4k: write burst at %h (%0d beats) crosses 4 KiB", awaddr, awlen + 1);
        Ar4k: assert (ok_ar_4k) else $error("Ar4k: read burst at %h (%0d beats) crosses 4 KiB", araddr, arlen + 1);
        WAfterAw: assert (ok_w_after_aw) else $error("WAfterAw: W beat before its burst's AW is presented");
        WLastBeat: assert (ok_wlast) else $error("WLastBeat: WLAST=%0b on beat %0d of a %0d-beat burst", wlast,
                                                 wbeat_q, w_len + 1);
        AwOutstanding: assert (ok_aw_out) else $error("AwOutstanding: more than %0d write bursts", MaxOutstanding);
        ArOutstanding: assert (ok_ar_out) else $error("ArOutstanding: more than %0d read bursts", MaxOutstanding);
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
        RLastBeat: assume (ok_rlast);
        AwWait: assume (ok_aw_wait);
        WWait: assume (ok_w_wait);
        ArWait: assume (ok_ar_wait);
        BWait: assume (ok_b_wait);
        RWait: assume (ok_r_wait);
      end
    end
  end else begin : g_slave_assert
    bit slave_rules_on = 1'b1;
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        // nothing is checked in reset
      end else if (slave_rules_on) begin
        BHold: assert (ok_b_hold) else $error("BHold: BVALID dropped or BRESP changed before BREADY");
        RHold: assert (ok_r_hold) else $error("RHold: RVALID dropped or R payload changed before RREADY");
        BOnlyAfterWrite: assert (ok_b_req) else $error("BOnlyAfterWrite: BVALID without a complete write burst");
        ROnlyAfterRead: assert (ok_r_req) else $error("ROnlyAfterRead: RVALID without an accepted AR");
        RLastBeat: assert (ok_rlast) else $error("RLastBeat: RLAST=%0b on beat %0d of a %0d-beat burst", rlast,
                                                 rbeat_q, r_len + 1);
        AwWait: assert (ok_aw_wait) else $error("AwWait: AWREADY later than %0d cycles", MaxWait);
        WWait: assert (ok_w_wait) else $error("WWait: WREADY later than %0d cycles", MaxWait);
        ArWait: assert (ok_ar_wait) else $error("ArWait: ARREADY later than %0d cycles", MaxWait);
        BWait: assert (ok_b_wait) else $error("BWait: no write response within %0d cycles", MaxWait);
        RWait: assert (ok_r_wait) else $error("RWait: no read beat within %0d cycles", MaxWait);
      end
    end
  end

endmodule
