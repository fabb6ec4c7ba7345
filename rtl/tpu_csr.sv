// tpu_csr: AXI4-Lite slave holding the control/status registers of the TPU (map: docs/csr.md,
// offsets: the CSR section of tpu_pkg.sv).
//
// AXI4-Lite slave (32-bit data, CsrAddrW-bit byte address; plain prefixed names for cocotbext-axi):
//   s_axil_aw*/w*/b*/ar*/r*  one transaction in flight per direction; AW and W may arrive in either
//                            order. Address bits [1:0] are ignored; WSTRB is honoured byte by byte on
//                            every writable register (a byte whose strobe is low keeps its value, a W1C
//                            or CTRL bit in such a byte is not acted on).
//   Responses: DECERR for an unmapped offset (read or write), SLVERR for a write to a read-only
//   register (the write is ignored), OKAY otherwise.
//
// Core side:
//   start_o            one-cycle pulse: the host wrote CTRL.START while the core was idle
//   busy_i             core busy; the CSR also keeps its own run flag (set by start_o, cleared by
//                      done_i), so a start in the cycle after start_o is rejected even if busy_i lags
//   done_i, err_i      one-cycle done pulse, with the run's error code (Err*) valid in that cycle
//   pc_i               the run's final PC, valid with done_i (the PC register)
//   prog_base_o        PROG_BASE_HI:LO, the program's host byte address
//   prog_len_o         PROG_LEN, the program length in instructions
//   irq_o              level interrupt: |(IRQ_STATUS & IRQ_ENABLE)
//   abort_o            one-cycle pulse: the host wrote CTRL.ABORT (a START / DMA_START in the same
//                      write is rejected)
//   win_base_o, win_limit_o  DMA_WIN_BASE / DMA_WIN_LIMIT (reset 0, 0: the window is closed)
//   dma_timeout_o      DMA_TIMEOUT, bus timeout in cycles (0 = off)
// DMA side (connects to tpu_dma's command/status ports):
//   dma_cmd_valid_o    raised by an accepted CTRL.DMA_START, held until dma_cmd_ready_i; the command
//   dma_cmd_*_o        fields are the DMA_* registers (the host must not rewrite them before the
//                      transfer is accepted; the DMA accepts an idle command in the next cycle)
//   dma_busy_i, dma_done_i, dma_err_i   as for the core
// Performance counters (64 bits each, owned here, cleared by CTRL.CNT_CLEAR):
//   CYCLES counts the cycles from an accepted start to done_i; the others add their increment
//   input every cycle: perf_array_busy_i, perf_macs_i (MACs this cycle), perf_wstall_i,
//   perf_dma_bytes_i (payload bytes this cycle), perf_dma_stall_i.
// Configuration read-back comes from the Cfg* parameters (set by the top from its own parameters).
module tpu_csr
  import tpu_pkg::*;
#(
  parameter int P              = ArraySize,
  parameter int CfgDataW       = DataW,
  parameter int CfgFracW       = FracW,
  parameter int CfgAccW        = AccW,
  parameter int CfgImemDepth   = ImemDepth,
  parameter int CfgUbDepth     = UbDepth,
  parameter int CfgWmDepth     = WmDepth,
  parameter int CfgAccDepth    = AccDepth,
  parameter int CfgDmaBusW     = 64,
  parameter int CfgDmaMaxBurst = 16
) (
  input  logic                clk_i,
  input  logic                rst_ni,

  input  logic [CsrAddrW-1:0] s_axil_awaddr,
  input  logic [2:0]          s_axil_awprot,
  input  logic                s_axil_awvalid,
  output logic                s_axil_awready,
  input  logic [31:0]         s_axil_wdata,
  input  logic [3:0]          s_axil_wstrb,
  input  logic                s_axil_wvalid,
  output logic                s_axil_wready,
  output logic [1:0]          s_axil_bresp,
  output logic                s_axil_bvalid,
  input  logic                s_axil_bready,
  input  logic [CsrAddrW-1:0] s_axil_araddr,
  input  logic [2:0]          s_axil_arprot,
  input  logic                s_axil_arvalid,
  output logic                s_axil_arready,
  output logic [31:0]         s_axil_rdata,
  output logic [1:0]          s_axil_rresp,
  output logic                s_axil_rvalid,
  input  logic                s_axil_rready,

  output logic                start_o,
  input  logic                busy_i,
  input  logic                done_i,
  input  logic [7:0]          err_i,
  input  logic [31:0]         pc_i,
  output logic [63:0]         prog_base_o,
  output logic [31:0]         prog_len_o,
  output logic                irq_o,
  output logic                abort_o,
  output logic [63:0]         win_base_o,
  output logic [63:0]         win_limit_o,
  output logic [31:0]         dma_timeout_o,

  output logic                dma_cmd_valid_o,
  input  logic                dma_cmd_ready_i,
  output logic                dma_cmd_dir_o,
  output logic [63:0]         dma_cmd_host_addr_o,
  output logic [1:0]          dma_cmd_sel_o,
  output logic [31:0]         dma_cmd_mem_addr_o,
  output logic [31:0]         dma_cmd_len_o,
  input  logic                dma_busy_i,
  input  logic                dma_done_i,
  input  logic [7:0]          dma_err_i,

  input  logic                perf_array_busy_i,
  input  logic [15:0]         perf_macs_i,
  input  logic                perf_wstall_i,
  input  logic [15:0]         perf_dma_bytes_i,
  input  logic                perf_dma_stall_i
);

  localparam logic [1:0] RespOkay = 2'b00;
  localparam logic [1:0] RespSlvErr = 2'b10;
  localparam logic [1:0] RespDecErr = 2'b11;
  localparam int NumCnt = 6;

  // Protection bits (and the byte offset within a register) carry no meaning for this register file.
  logic unused_prot;
  assign unused_prot = ^{s_axil_awprot, s_axil_arprot, s_axil_araddr[1:0], s_axil_awaddr[1:0]};

  // ---- AXI4-Lite handshakes ----------------------------------------------------------------------
  logic                aw_valid_q, w_valid_q, b_valid_q, r_valid_q;
  logic [CsrAddrW-1:2] aw_addr_q;  // registers are whole words: byte-offset bits are ignored
  logic [31:0]         w_data_q, r_data_q;
  logic [3:0]          w_strb_q;
  logic [1:0]          b_resp_q, r_resp_q;
  logic                wr_en, rd_en;

  assign s_axil_awready = !aw_valid_q;
  assign s_axil_wready  = !w_valid_q;
  assign s_axil_bvalid  = b_valid_q;
  assign s_axil_bresp   = b_resp_q;
  assign s_axil_arready = !r_valid_q;
  assign s_axil_rvalid  = r_valid_q;
  assign s_axil_rdata   = r_data_q;
  assign s_axil_rresp   = r_resp_q;

  // A write executes once address and data are both held and the previous response has left.
  assign wr_en = aw_valid_q && w_valid_q && !b_valid_q;
  assign rd_en = s_axil_arvalid && !r_valid_q;

  // ---- Register state ----------------------------------------------------------------------------
  logic            run_q, done_q, dma_run_q, dma_done_q, dma_cmd_valid_q;
  logic [7:0]      err_q, dma_err_q;
  logic [31:0]     pc_q;
  logic [15:0]     rej_q, dma_rej_q;
  logic [IrqW-1:0] irq_en_q, irq_st_q;
  logic [31:0]     prog_lo_q, prog_hi_q, prog_len_q;
  logic [31:0]     dma_lo_q, dma_hi_q, dma_mem_q, dma_len_q;
  logic [31:0]     win_blo_q, win_bhi_q, win_llo_q, win_lhi_q, tmo_q;
  logic            dma_dir_q;
  logic [1:0]      dma_sel_q;
  logic [63:0]     cnt_q [NumCnt];
  logic [31:0]     snap_q [NumCnt];

  // ---- Write decode ------------------------------------------------------------------------------
  logic [31:0] wmask, wbits;
  logic [5:0]  wword, rword;
  logic        w_mapped, w_writable;
  logic        start_req, dma_start_req, clear_req, abort_req, start_ok, dma_start_ok;
  logic        start_rej, dma_start_rej;

  assign wmask = {{8{w_strb_q[3]}}, {8{w_strb_q[2]}}, {8{w_strb_q[1]}}, {8{w_strb_q[0]}}};
  assign wbits = w_data_q & wmask;
  assign wword = aw_addr_q;
  assign rword = s_axil_araddr[CsrAddrW-1:2];

  function automatic logic is_mapped(input logic [5:0] word);
    logic [CsrAddrW-1:0] off;
    off = {word, 2'b00};
    case (int'(off))
      CsrCtrl, CsrStatus, CsrRejects, CsrIrqEnable, CsrIrqStatus, CsrProgBaseLo, CsrProgBaseHi,
      CsrProgLen, CsrDmaHostLo, CsrDmaHostHi, CsrDmaMemAddr, CsrDmaLen, CsrDmaCfg, CsrPc, CsrVersion,
      CsrCfgArray, CsrCfgImem, CsrCfgUb, CsrCfgWmem, CsrCfgAcc, CsrCfgDma, CsrDmaWinBaseLo,
      CsrDmaWinBaseHi, CsrDmaWinLimitLo, CsrDmaWinLimitHi, CsrDmaTimeout: is_mapped = 1'b1;
      default: is_mapped = int'(off) >= CsrCycLo && int'(off) <= CsrDmaStallHi;
    endcase
  endfunction

  function automatic logic is_writable(input logic [5:0] word);
    logic [CsrAddrW-1:0] off;
    off = {word, 2'b00};
    case (int'(off))
      CsrCtrl, CsrIrqEnable, CsrIrqStatus, CsrProgBaseLo, CsrProgBaseHi, CsrProgLen, CsrDmaHostLo,
      CsrDmaHostHi, CsrDmaMemAddr, CsrDmaLen, CsrDmaCfg, CsrDmaWinBaseLo, CsrDmaWinBaseHi,
      CsrDmaWinLimitLo, CsrDmaWinLimitHi, CsrDmaTimeout: is_writable = 1'b1;
      default: is_writable = 1'b0;
    endcase
  endfunction

  assign w_mapped   = is_mapped(wword);
  assign w_writable = is_writable(wword);

  function automatic logic wr_hit(input logic en, input logic [5:0] word, input int off);
    wr_hit = en && (int'({word, 2'b00}) == off);
  endfunction

  assign start_req     = wr_hit(wr_en, wword, CsrCtrl) && wbits[CtrlStart];
  assign dma_start_req = wr_hit(wr_en, wword, CsrCtrl) && wbits[CtrlDmaStart];
  assign clear_req     = wr_hit(wr_en, wword, CsrCtrl) && wbits[CtrlCntClear];
  assign abort_req     = wr_hit(wr_en, wword, CsrCtrl) && wbits[CtrlAbort];
  // A start written together with ABORT is rejected: the write's intent is to stop, not to start.
  assign start_ok      = start_req && !(run_q || busy_i || abort_req);
  assign start_rej     = start_req && (run_q || busy_i || abort_req);
  assign dma_start_ok  = dma_start_req && !(dma_run_q || dma_busy_i || abort_req);
  assign dma_start_rej = dma_start_req && (dma_run_q || dma_busy_i || abort_req);

  function automatic logic [31:0] merge(input logic [31:0] old, input logic [31:0] data,
                                        input logic [31:0] mask);
    merge = (old & ~mask) | (data & mask);
  endfunction

  logic [IrqW-1:0] irq_set;
  assign irq_set[IrqDone]     = done_i;
  assign irq_set[IrqError]    = done_i && (err_i != 8'd0);
  assign irq_set[IrqDmaDone]  = dma_done_i;
  assign irq_set[IrqDmaError] = dma_done_i && (dma_err_i != 8'd0);
  assign irq_set[IrqReject]   = start_rej || dma_start_rej;

  // ---- Counters ----------------------------------------------------------------------------------
  logic [63:0] cnt_inc [NumCnt];
  assign cnt_inc[0] = {63'd0, run_q};
  assign cnt_inc[1] = {63'd0, perf_array_busy_i};
  assign cnt_inc[2] = {48'd0, perf_macs_i};
  assign cnt_inc[3] = {63'd0, perf_wstall_i};
  assign cnt_inc[4] = {48'd0, perf_dma_bytes_i};
  assign cnt_inc[5] = {63'd0, perf_dma_stall_i};

  // Counter index and half of a read offset (valid when the offset is in the counter window).
  logic [7:0] roff;
  int         rcnt;
  logic       rcnt_hi, rcnt_hit;
  assign roff     = {rword, 2'b00};
  assign rcnt     = (int'(roff) - CsrCycLo) / 8;
  assign rcnt_hi  = roff[2];
  assign rcnt_hit = int'(roff) >= CsrCycLo && int'(roff) <= CsrDmaStallHi;

  // ---- Read mux ----------------------------------------------------------------------------------
  logic [31:0] status, rdata;
  always_comb begin
    status = '0;
    status[StatBusy]    = run_q || busy_i;
    status[StatDone]    = done_q;
    status[StatError]   = err_q != 8'd0;
    status[StatDmaBusy] = dma_run_q || dma_busy_i;
    status[StatDmaDone] = dma_done_q;
    status[StatDmaError] = dma_err_q != 8'd0;
    status[StatErrLsb +: 8]    = err_q;
    status[StatDmaErrLsb +: 8] = dma_err_q;
  end

  // Outside the always_comb: Icarus cannot select bits of an array word inside always_*.
  logic [63:0] rcnt_val;
  logic [31:0] rcnt_word;
  assign rcnt_val  = cnt_q[rcnt];
  assign rcnt_word = rcnt_hi ? snap_q[rcnt] : rcnt_val[31:0];

  always_comb begin
    rdata = '0;
    if (rcnt_hit) begin
      rdata = rcnt_word;
    end else begin
      case (int'(roff))
        CsrStatus:     rdata = status;
        CsrRejects:    rdata = {dma_rej_q, rej_q};
        CsrIrqEnable:  rdata = 32'(irq_en_q);
        CsrIrqStatus:  rdata = 32'(irq_st_q);
        CsrProgBaseLo: rdata = prog_lo_q;
        CsrProgBaseHi: rdata = prog_hi_q;
        CsrProgLen:    rdata = prog_len_q;
        CsrDmaHostLo:  rdata = dma_lo_q;
        CsrDmaHostHi:  rdata = dma_hi_q;
        CsrDmaMemAddr: rdata = dma_mem_q;
        CsrDmaLen:     rdata = dma_len_q;
        CsrDmaCfg:     rdata = {26'd0, dma_sel_q, 3'd0, dma_dir_q};
        CsrPc:         rdata = pc_q;
        CsrDmaWinBaseLo:  rdata = win_blo_q;
        CsrDmaWinBaseHi:  rdata = win_bhi_q;
        CsrDmaWinLimitLo: rdata = win_llo_q;
        CsrDmaWinLimitHi: rdata = win_lhi_q;
        CsrDmaTimeout:    rdata = tmo_q;
        CsrVersion:    rdata = 32'(CsrVersionValue);
        CsrCfgArray:   rdata = {8'(CfgAccW), 8'(CfgFracW), 8'(CfgDataW), 8'(P)};
        CsrCfgImem:    rdata = 32'(CfgImemDepth);
        CsrCfgUb:      rdata = 32'(CfgUbDepth);
        CsrCfgWmem:    rdata = 32'(CfgWmDepth);
        CsrCfgAcc:     rdata = 32'(CfgAccDepth);
        CsrCfgDma:     rdata = {16'(CfgDmaMaxBurst), 16'(CfgDmaBusW)};
        default:       rdata = '0;  // CTRL reads 0; unmapped offsets answer DECERR
      endcase
    end
  end

  // ---- Sequential logic --------------------------------------------------------------------------
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      aw_valid_q <= 1'b0;
      w_valid_q  <= 1'b0;
      b_valid_q  <= 1'b0;
      r_valid_q  <= 1'b0;
      aw_addr_q  <= '0;
      w_data_q   <= '0;
      w_strb_q   <= '0;
      b_resp_q   <= RespOkay;
      r_data_q   <= '0;
      r_resp_q   <= RespOkay;
    end else begin
      if (s_axil_awvalid && s_axil_awready) begin
        aw_valid_q <= 1'b1;
        aw_addr_q  <= s_axil_awaddr[CsrAddrW-1:2];
      end
      if (s_axil_wvalid && s_axil_wready) begin
        w_valid_q <= 1'b1;
        w_data_q  <= s_axil_wdata;
        w_strb_q  <= s_axil_wstrb;
      end
      if (wr_en) begin
        aw_valid_q <= 1'b0;
        w_valid_q  <= 1'b0;
        b_valid_q  <= 1'b1;
        b_resp_q   <= !w_mapped ? RespDecErr : (!w_writable ? RespSlvErr : RespOkay);
      end else if (s_axil_bready) begin
        b_valid_q <= 1'b0;
      end
      if (rd_en) begin
        r_valid_q <= 1'b1;
        r_data_q  <= is_mapped(rword) ? rdata : 32'd0;
        r_resp_q  <= is_mapped(rword) ? RespOkay : RespDecErr;
      end else if (s_axil_rready) begin
        r_valid_q <= 1'b0;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      run_q           <= 1'b0;
      done_q          <= 1'b0;
      err_q           <= '0;
      pc_q            <= '0;
      dma_run_q       <= 1'b0;
      dma_done_q      <= 1'b0;
      dma_err_q       <= '0;
      dma_cmd_valid_q <= 1'b0;
      rej_q           <= '0;
      dma_rej_q       <= '0;
      irq_en_q        <= '0;
      irq_st_q        <= '0;
      prog_lo_q       <= '0;
      prog_hi_q       <= '0;
      prog_len_q      <= '0;
      dma_lo_q        <= '0;
      dma_hi_q        <= '0;
      dma_mem_q       <= '0;
      dma_len_q       <= '0;
      dma_dir_q       <= 1'b0;
      dma_sel_q       <= '0;
      win_blo_q       <= '0;
      win_bhi_q       <= '0;
      win_llo_q       <= '0;
      win_lhi_q       <= '0;
      tmo_q           <= 32'(DmaTimeoutReset);
    end else begin
      // Core run state: a start clears the previous outcome, done records the new one.
      if (start_ok) begin
        run_q  <= 1'b1;
        done_q <= 1'b0;
        err_q  <= '0;
      end else if (done_i) begin
        run_q  <= 1'b0;
        done_q <= 1'b1;
        err_q  <= err_i;
        pc_q   <= pc_i;
      end
      if (dma_start_ok) begin
        dma_run_q       <= 1'b1;
        dma_done_q      <= 1'b0;
        dma_err_q       <= '0;
        dma_cmd_valid_q <= 1'b1;
      end else begin
        if (dma_cmd_valid_q && dma_cmd_ready_i) dma_cmd_valid_q <= 1'b0;
        if (dma_done_i) begin
          dma_run_q  <= 1'b0;
          dma_done_q <= 1'b1;
          dma_err_q  <= dma_err_i;
        end
      end
      // Rejected-start counters saturate rather than wrap so a non-zero value is never lost.
      if (clear_req) begin
        rej_q     <= '0;
        dma_rej_q <= '0;
      end else begin
        if (start_rej && rej_q != 16'hffff) rej_q <= rej_q + 16'd1;
        if (dma_start_rej && dma_rej_q != 16'hffff) dma_rej_q <= dma_rej_q + 16'd1;
      end
      // A new event wins over a W1C clear of the same bit in the same cycle.
      if (wr_hit(wr_en, wword, CsrIrqStatus)) irq_st_q <= (irq_st_q & ~wbits[IrqW-1:0]) | irq_set;
      else irq_st_q <= irq_st_q | irq_set;
      if (wr_hit(wr_en, wword, CsrIrqEnable)) begin
        irq_en_q <= (irq_en_q & ~wmask[IrqW-1:0]) | (w_data_q[IrqW-1:0] & wmask[IrqW-1:0]);
      end
      if (wr_hit(wr_en, wword, CsrProgBaseLo)) prog_lo_q <= merge(prog_lo_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrProgBaseHi)) prog_hi_q <= merge(prog_hi_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrProgLen)) prog_len_q <= merge(prog_len_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaHostLo)) dma_lo_q <= merge(dma_lo_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaHostHi)) dma_hi_q <= merge(dma_hi_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaMemAddr)) dma_mem_q <= merge(dma_mem_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaLen)) dma_len_q <= merge(dma_len_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaWinBaseLo)) win_blo_q <= merge(win_blo_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaWinBaseHi)) win_bhi_q <= merge(win_bhi_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaWinLimitLo)) win_llo_q <= merge(win_llo_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaWinLimitHi)) win_lhi_q <= merge(win_lhi_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaTimeout)) tmo_q <= merge(tmo_q, w_data_q, wmask);
      if (wr_hit(wr_en, wword, CsrDmaCfg) && w_strb_q[0]) begin
        dma_dir_q <= w_data_q[0];
        dma_sel_q <= w_data_q[5:4];
      end
    end
  end

  // Counters: a LO read snapshots HI so HI:LO reads as one value even when LO carries meanwhile.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      for (int i = 0; i < NumCnt; i++) begin
        cnt_q[i]  <= '0;
        snap_q[i] <= '0;
      end
    end else begin
      for (int i = 0; i < NumCnt; i++) begin
        if (clear_req) begin
          cnt_q[i]  <= '0;
          snap_q[i] <= '0;
        end else begin
          cnt_q[i] <= cnt_q[i] + cnt_inc[i];
          if (rd_en && rcnt_hit && !rcnt_hi && rcnt == i) snap_q[i] <= rcnt_val[63:32];
        end
      end
    end
  end

  assign start_o             = start_ok;
  assign abort_o             = abort_req;
  assign win_base_o          = {win_bhi_q, win_blo_q};
  assign win_limit_o         = {win_lhi_q, win_llo_q};
  assign dma_timeout_o       = tmo_q;
  assign prog_base_o         = {prog_hi_q, prog_lo_q};
  assign prog_len_o          = prog_len_q;
  assign irq_o               = |(irq_st_q & irq_en_q);
  assign dma_cmd_valid_o     = dma_cmd_valid_q;
  assign dma_cmd_dir_o       = dma_dir_q;
  assign dma_cmd_host_addr_o = {dma_hi_q, dma_lo_q};
  assign dma_cmd_sel_o       = dma_sel_q;
  assign dma_cmd_mem_addr_o  = dma_mem_q;
  assign dma_cmd_len_o       = dma_len_q;

endmodule
