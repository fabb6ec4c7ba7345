// tpu_top: Systole as an AXI peripheral (docs/host.md): the CSR block (tpu_csr), the DMA (tpu_dma) and
// the programmable core (tpu_core).
//
// Ports
//   clk_i, rst_ni   : clock, asynchronous active-low reset of everything (memories keep their contents)
//   s_axil_*        : AXI4-Lite slave, 32-bit data, CsrAddrW-bit byte addresses: the CSRs (docs/csr.md)
//   m_axi_*         : AXI4 master, BusW-bit data, AddrW-bit addresses, IdW-bit IDs: the DMA
//   irq_o           : level interrupt, |(IRQ_STATUS & IRQ_ENABLE)
//
// Sequencing (one owner of the DMA at a time):
//   * CTRL.START    : the DMA fetches PROG_LEN instructions from PROG_BASE into IMEM 0.., then the core
//                     runs from pc 0. A fetch that fails ends the run at once (STATUS.ERR_CODE: ErrLen
//                     for PROG_LEN 0, ErrDmaAddr for a range/alignment error, ErrDmaSlv / ErrDmaDec).
//                     CYCLES counts from the accepted start to the done, fetch included.
//   * running core  : its DMA instructions use the DMA; the words move through the core's host port.
//   * CTRL.DMA_START: a host-side transfer from the DMA_* registers, only while the core is idle.
//   While any of them runs, both START and DMA_START are rejected (REJECTS, IRQ REJECT), and
//   STATUS.BUSY and STATUS.DMA_BUSY are both set. A DMA_START in the same write as an accepted START
//   is rejected too (the run owns the DMA). BUSY also stays set while the DMA still owes the bus after
//   a timeout (tpu_dma drains in the background).
//   * CTRL.ABORT    : while something runs: the DMA stops and drains its bursts legally (DmaErrAbort),
//                     then the core gets a one-cycle soft reset (memories keep their contents) and the
//                     run ends with ErrAbort (a host transfer with DmaErrAbort). No effect while idle.
// DMA window: the fetch and the program's DMAs are checked against DMA_WIN_BASE/LIMIT (DmaErrWindow,
// ErrDmaWindow, no bus activity); host DMA_START transfers are not (the host owns the window).
// Width checks: a command whose host address needs more than AddrW bits, or whose on-chip address or
// length needs more than 16 bits, ends with DmaErrRange and no bus activity (never truncated).
module tpu_top #(
  parameter int P              = tpu_pkg::ArraySize,
  parameter int ImemDepth      = tpu_pkg::ImemDepth,
  parameter int UbDepth        = tpu_pkg::UbDepth,
  parameter int WmDepth        = tpu_pkg::WmDepth,
  parameter int AccDepth       = tpu_pkg::AccDepth,
  parameter int BusW           = 64,
  parameter int AddrW          = 32,
  parameter int IdW            = 4,
  parameter int MaxBurst       = 16,
  parameter int MaxOutstanding = 4
) (
  input  logic                clk_i,
  input  logic                rst_ni,

  input  logic [tpu_pkg::CsrAddrW-1:0] s_axil_awaddr,
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
  input  logic [tpu_pkg::CsrAddrW-1:0] s_axil_araddr,
  input  logic [2:0]          s_axil_arprot,
  input  logic                s_axil_arvalid,
  output logic                s_axil_arready,
  output logic [31:0]         s_axil_rdata,
  output logic [1:0]          s_axil_rresp,
  output logic                s_axil_rvalid,
  input  logic                s_axil_rready,

  output logic [IdW-1:0]      m_axi_awid,
  output logic [AddrW-1:0]    m_axi_awaddr,
  output logic [7:0]          m_axi_awlen,
  output logic [2:0]          m_axi_awsize,
  output logic [1:0]          m_axi_awburst,
  output logic                m_axi_awlock,
  output logic [3:0]          m_axi_awcache,
  output logic [2:0]          m_axi_awprot,
  output logic                m_axi_awvalid,
  input  logic                m_axi_awready,
  output logic [BusW-1:0]     m_axi_wdata,
  output logic [BusW/8-1:0]   m_axi_wstrb,
  output logic                m_axi_wlast,
  output logic                m_axi_wvalid,
  input  logic                m_axi_wready,
  input  logic [IdW-1:0]      m_axi_bid,
  input  logic [1:0]          m_axi_bresp,
  input  logic                m_axi_bvalid,
  output logic                m_axi_bready,
  output logic [IdW-1:0]      m_axi_arid,
  output logic [AddrW-1:0]    m_axi_araddr,
  output logic [7:0]          m_axi_arlen,
  output logic [2:0]          m_axi_arsize,
  output logic [1:0]          m_axi_arburst,
  output logic                m_axi_arlock,
  output logic [3:0]          m_axi_arcache,
  output logic [2:0]          m_axi_arprot,
  output logic                m_axi_arvalid,
  input  logic                m_axi_arready,
  input  logic [IdW-1:0]      m_axi_rid,
  input  logic [BusW-1:0]     m_axi_rdata,
  input  logic [1:0]          m_axi_rresp,
  input  logic                m_axi_rlast,
  input  logic                m_axi_rvalid,
  output logic                m_axi_rready,

  output logic                irq_o
);
  import tpu_pkg::*;

  localparam int HostW    = (P * AccW > InstrW) ? P * AccW : InstrW;
  localparam int ImemAw   = $clog2(ImemDepth);
  localparam int MemAddrW = HostAddrW;  // on-chip word addresses of the DMA and the core's host port
  localparam int LenW     = 16;

  // ---- Parameter checks (elaboration) -----------------------------------------------------------
  // A configuration the RTL cannot implement stops elaboration with a message naming the parameter.
  // Icarus 11 has no elaboration-time $fatal: there an instance of a module that does not exist,
  // named after the broken rule, stops elaboration instead ("Unknown module type: <rule>").
  if (!(P >= 1 && P <= 128 && (P & (P - 1)) == 0)) begin : g_bad_p
`ifdef __ICARUS__
    tpu_top__P_must_be_a_power_of_two_up_to_128 u_param_error ();
`else
    $fatal(1, "tpu_top: P = %0d: must be a power of two up to 128 (DMA word widths; 8-bit CFG_ARRAY.P)", P);
`endif
  end

  // Plain constants: Icarus 11 mis-evaluates this module's state register when it is an enum.
  localparam logic [2:0] TIdle = 3'd0, TFetch = 3'd1, TRun = 3'd2, THost = 3'd3, TAbort = 3'd4;

  // ---- CSR block ----------------------------------------------------------------------------------
  logic        csr_start, csr_done, csr_irq, csr_abort;
  logic [63:0] win_base, win_limit;
  logic [31:0] dma_timeout;
  logic [7:0]  csr_err;
  logic [63:0] prog_base;
  logic [31:0] prog_len;
  logic        csr_dma_valid, csr_dma_ready, csr_dma_dir, csr_dma_done;
  logic [63:0] csr_dma_host;
  logic [1:0]  csr_dma_sel;
  logic [31:0] csr_dma_mem, csr_dma_len;
  logic [7:0]  csr_dma_err;
  logic        busy;
  logic        ev_row, ev_wstall, dma_stall;
  logic [15:0] dma_bytes;
  // Declared here because the CSR block reads them (the PC of the last run, while it runs).
  logic [2:0]        state_q;
  logic [ImemAw-1:0] core_pc;
  logic [31:0]       csr_pc;

  tpu_csr #(
    .P(P), .CfgDataW(DataW), .CfgFracW(FracW), .CfgAccW(AccW), .CfgImemDepth(ImemDepth),
    .CfgUbDepth(UbDepth), .CfgWmDepth(WmDepth), .CfgAccDepth(AccDepth), .CfgDmaBusW(BusW),
    .CfgDmaMaxBurst(MaxBurst)
  ) u_csr (
    .clk_i, .rst_ni,
    .s_axil_awaddr, .s_axil_awprot, .s_axil_awvalid, .s_axil_awready, .s_axil_wdata, .s_axil_wstrb,
    .s_axil_wvalid, .s_axil_wready, .s_axil_bresp, .s_axil_bvalid, .s_axil_bready, .s_axil_araddr,
    .s_axil_arprot, .s_axil_arvalid, .s_axil_arready, .s_axil_rdata, .s_axil_rresp, .s_axil_rvalid,
    .s_axil_rready,
    .start_o             (csr_start),
    .busy_i              (busy),
    .done_i              (csr_done),
    .err_i               (csr_err),
    .pc_i                (csr_pc),
    .prog_base_o         (prog_base),
    .prog_len_o          (prog_len),
    .irq_o               (csr_irq),
    .abort_o             (csr_abort),
    .win_base_o          (win_base),
    .win_limit_o         (win_limit),
    .dma_timeout_o       (dma_timeout),
    .dma_cmd_valid_o     (csr_dma_valid),
    .dma_cmd_ready_i     (csr_dma_ready),
    .dma_cmd_dir_o       (csr_dma_dir),
    .dma_cmd_host_addr_o (csr_dma_host),
    .dma_cmd_sel_o       (csr_dma_sel),
    .dma_cmd_mem_addr_o  (csr_dma_mem),
    .dma_cmd_len_o       (csr_dma_len),
    .dma_busy_i          (busy || csr_start),
    .dma_done_i          (csr_dma_done),
    .dma_err_i           (csr_dma_err),
    .perf_array_busy_i   (ev_row),
    .perf_macs_i         (ev_row ? 16'(P * P) : 16'd0),
    .perf_wstall_i       (ev_wstall),
    .perf_dma_bytes_i    (dma_bytes),
    .perf_dma_stall_i    (dma_stall)
  );
  assign irq_o = csr_irq;

  // ---- Core ---------------------------------------------------------------------------------------
  logic                    core_start_q, core_busy, core_done;
  logic [ErrW-1:0]         core_err;
  logic                    hreq_valid, hreq_ready, hreq_we, hrsp_valid, hrsp_err;
  logic [HostMemW-1:0]     hreq_mem;
  logic [HostAddrW-1:0]    hreq_addr;
  logic [HostW-1:0]        hreq_wdata, hrsp_rdata;
  logic                    c_dma_req, c_dma_out, fe_done;
  logic [1:0]              c_dma_sel;
  logic [InstrAW-1:0]      c_dma_addr;
  logic [InstrBW-1:0]      c_dma_len;
  logic [63:0]             c_dma_host;
  logic [7:0]              fe_err;
  // The core's own 64-bit counters are for tb/core; the CSR block keeps the host-visible ones.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [PerfCntW-1:0]     pc_cycles, pc_rows, pc_macs, pc_wstall;
  /* verilator lint_on UNUSEDSIGNAL */

  // Soft reset of the core after an abort: a flop, so the reset is glitch-free; asserted for one cycle
  // once the DMA is idle (the core's host port must answer every request the DMA made before).
  logic core_srst_q, core_rst_n;
  assign core_rst_n = rst_ni && !core_srst_q;

  tpu_core #(
    .P(P), .DataW(DataW), .FracW(FracW), .AccW(AccW), .ImemDepth(ImemDepth), .UbDepth(UbDepth),
    .WmDepth(WmDepth), .AccDepth(AccDepth)
  ) u_core (
    .clk_i, .rst_ni(core_rst_n),
    .start_i           (core_start_q),
    .pc_start_i        (ImemAw'(0)),
    .busy_o            (core_busy),
    .done_o            (core_done),
    .error_o           (core_err),
    .pc_o              (core_pc),
    .host_req_valid_i  (hreq_valid),
    .host_req_ready_o  (hreq_ready),
    .host_req_we_i     (hreq_we),
    .host_req_mem_i    (hreq_mem),
    .host_req_addr_i   (hreq_addr),
    .host_req_wdata_i  (hreq_wdata),
    .host_rsp_valid_o  (hrsp_valid),
    .host_rsp_err_o    (hrsp_err),
    .host_rsp_rdata_o  (hrsp_rdata),
    .perf_cycles_o     (pc_cycles),
    .perf_rows_o       (pc_rows),
    .perf_macs_o       (pc_macs),
    .perf_wstall_o     (pc_wstall),
    .perf_row_o        (ev_row),
    .perf_wstall_inc_o (ev_wstall),
    .dma_req_o         (c_dma_req),
    .dma_out_o         (c_dma_out),
    .dma_sel_o         (c_dma_sel),
    .dma_addr_o        (c_dma_addr),
    .dma_len_o         (c_dma_len),
    .dma_host_o        (c_dma_host),
    .dma_done_i        (fe_done && state_q == TRun),
    .dma_err_i         (fe_err)
  );

  // The PC and the busy level are visible in STATUS only through done / ERR_CODE; the DMA checks every
  // on-chip range before it moves a word, so the host port never answers an error.
  logic unused_core;
  assign unused_core = ^{core_busy, hrsp_err};

  // ---- DMA command front end: one command register shared by the fetch, the CSRs and the core -------
  logic            cmd_v_q, cmd_dir_q, cmd_win_q, bad_q, cmd_bad, dma_ready, dma_done, dma_busy;
  logic            ab_run_q, ab_end;
  logic [31:0]     ab_pc_q;
  logic [63:0]     cmd_host_q;
  logic [1:0]      cmd_sel_q;
  logic [31:0]     cmd_mem_q, cmd_len_q;
  logic [7:0]      dma_err;

  assign cmd_bad = (cmd_host_q >> AddrW) != 64'd0 || (cmd_mem_q >> MemAddrW) != 32'd0
                   || (cmd_len_q >> LenW) != 32'd0;
  assign fe_done = dma_done || bad_q;
  assign fe_err  = bad_q ? 8'(DmaErrRange) : dma_err;

  // Fetch outcome -> core error code.
  logic [ErrW-1:0] fetch_err;
  always_comb begin
    case (int'(fe_err))
      DmaErrNone: fetch_err = ErrW'(ErrNone);
      DmaErrLen:  fetch_err = ErrW'(ErrLen);
      DmaErrSlv:  fetch_err = ErrW'(ErrDmaSlv);
      DmaErrDec:  fetch_err = ErrW'(ErrDmaDec);
      DmaErrWindow:  fetch_err = ErrW'(ErrDmaWindow);
      DmaErrProto:   fetch_err = ErrW'(ErrDmaProto);
      DmaErrTimeout: fetch_err = ErrW'(ErrDmaTimeout);
      default:    fetch_err = ErrW'(ErrDmaAddr);
    endcase
  end

  // An abort ends once the DMA has drained (bad_q: a refused command's one-cycle end, also drained).
  assign ab_end        = state_q == TAbort && !dma_busy && !bad_q;
  assign busy          = state_q != TIdle || dma_busy;
  assign csr_dma_ready = state_q == TIdle && !csr_start && !dma_busy;
  assign csr_done      = (state_q == TFetch && fe_done && fe_err != 8'(DmaErrNone))
                         || (state_q == TRun && core_done) || (ab_end && ab_run_q);
  assign csr_err       = state_q == TFetch ? 8'(fetch_err)
                       : (state_q == TAbort ? 8'(ErrAbort) : 8'(core_err));
  assign csr_dma_done  = (state_q == THost && fe_done) || (ab_end && !ab_run_q);
  assign csr_dma_err   = state_q == TAbort ? 8'(DmaErrAbort) : fe_err;
  // In the run's first cycle the core has not started yet: its PC is still the previous run's.
  assign csr_pc        = state_q == TRun ? (core_start_q ? 32'd0 : 32'(core_pc))
                                         : (state_q == TAbort ? ab_pc_q : 32'd0);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q      <= TIdle;
      core_start_q <= 1'b0;
      cmd_v_q      <= 1'b0;
      bad_q        <= 1'b0;
      cmd_dir_q    <= 1'b0;
      cmd_win_q    <= 1'b0;
      core_srst_q  <= 1'b0;
      ab_run_q     <= 1'b0;
      ab_pc_q      <= '0;
      cmd_host_q   <= '0;
      cmd_sel_q    <= '0;
      cmd_mem_q    <= '0;
      cmd_len_q    <= '0;
    end else begin
      core_start_q <= 1'b0;
      bad_q        <= 1'b0;
      core_srst_q  <= 1'b0;
      // A command that does not fit the DMA's widths ends (one cycle later) without reaching it.
      if (cmd_v_q && cmd_bad) begin
        cmd_v_q <= 1'b0;
        bad_q   <= 1'b1;
      end else if (cmd_v_q && dma_ready) begin
        cmd_v_q <= 1'b0;
      end
      case (state_q)
        TIdle: begin
          if (csr_start) begin
            state_q    <= TFetch;
            cmd_v_q    <= 1'b1;
            cmd_dir_q  <= 1'(DmaDirToChip);
            cmd_win_q  <= 1'b1;
            cmd_host_q <= prog_base;
            cmd_sel_q  <= 2'(MemSelImem);
            cmd_mem_q  <= '0;
            cmd_len_q  <= prog_len;
          end else if (csr_dma_valid) begin
            state_q    <= THost;
            cmd_v_q    <= 1'b1;
            cmd_dir_q  <= csr_dma_dir;
            cmd_win_q  <= 1'b0;
            cmd_host_q <= csr_dma_host;
            cmd_sel_q  <= csr_dma_sel;
            cmd_mem_q  <= csr_dma_mem;
            cmd_len_q  <= csr_dma_len;
          end
        end
        TFetch: begin
          if (fe_done) begin
            if (fe_err == 8'(DmaErrNone)) begin
              state_q      <= TRun;
              core_start_q <= 1'b1;
            end else begin
              state_q <= TIdle;
            end
          end
        end
        TRun: begin
          if (c_dma_req) begin
            cmd_v_q    <= 1'b1;
            cmd_dir_q  <= c_dma_out;
            cmd_win_q  <= 1'b1;
            cmd_host_q <= c_dma_host;
            cmd_sel_q  <= c_dma_sel;
            cmd_mem_q  <= 32'(c_dma_addr);
            cmd_len_q  <= 32'(c_dma_len);
          end
          if (core_done) state_q <= TIdle;
        end
        THost: begin
          if (fe_done) state_q <= TIdle;
        end
        TAbort: begin
          if (ab_end) begin
            state_q     <= TIdle;
            core_srst_q <= 1'b1;
          end
        end
        default: state_q <= TIdle;
      endcase
      // ABORT while something runs: a command not yet taken by the DMA is dropped. In the cycle the
      // work ends by itself (its done pulse) the abort comes too late and is ignored: one done per run.
      if (csr_abort && state_q != TIdle && state_q != TAbort && !csr_done && !csr_dma_done) begin
        state_q      <= TAbort;
        cmd_v_q      <= 1'b0;
        core_start_q <= 1'b0;
        ab_run_q <= state_q != THost;
        ab_pc_q  <= csr_pc;
      end
    end
  end

  // ---- DMA and its memory port (the core's host port) ----------------------------------------------
  logic                dwr_valid, drd_valid, rsp_rd_q;
  logic [1:0]          dwr_sel, drd_sel;
  logic [MemAddrW-1:0] dwr_addr, drd_addr;
  logic [HostW-1:0]    dwr_data;

  tpu_dma #(
    .AddrW(AddrW), .BusW(BusW), .IdW(IdW), .MaxBurst(MaxBurst), .MaxOutstanding(MaxOutstanding),
    .MemAddrW(MemAddrW), .LenW(LenW), .ImemWordW(InstrW), .UbWordW(P * DataW), .WmWordW(P * DataW),
    .AccWordW(P * AccW), .MemWordW(HostW), .ImemWords(ImemDepth), .UbWords(UbDepth),
    .WmWords(WmDepth), .AccWords(AccDepth)
  ) u_dma (
    .clk_i, .rst_ni,
    .cmd_valid_i     (cmd_v_q && !cmd_bad && state_q != TAbort),
    .cmd_ready_o     (dma_ready),
    .cmd_dir_i       (cmd_dir_q),
    .cmd_host_addr_i (cmd_host_q[AddrW-1:0]),
    .cmd_sel_i       (cmd_sel_q),
    .cmd_mem_addr_i  (cmd_mem_q[MemAddrW-1:0]),
    .cmd_len_i       (cmd_len_q[LenW-1:0]),
    .cmd_win_i       (cmd_win_q),
    .win_base_i      (win_base),
    .win_limit_i     (win_limit),
    .timeout_i       (dma_timeout),
    .abort_i         (state_q == TAbort),
    .busy_o          (dma_busy),
    .done_o          (dma_done),
    .err_o           (dma_err),
    .perf_bytes_o    (dma_bytes),
    .perf_stall_o    (dma_stall),
    .wr_valid_o      (dwr_valid),
    .wr_ready_i      (hreq_ready),
    .wr_sel_o        (dwr_sel),
    .wr_addr_o       (dwr_addr),
    .wr_data_o       (dwr_data),
    .rd_req_valid_o  (drd_valid),
    .rd_req_ready_i  (hreq_ready && !dwr_valid),
    .rd_sel_o        (drd_sel),
    .rd_addr_o       (drd_addr),
    .rd_rsp_valid_i  (hrsp_valid && rsp_rd_q),
    .rd_rsp_data_i   (hrsp_rdata),
    .m_axi_awid, .m_axi_awaddr, .m_axi_awlen, .m_axi_awsize, .m_axi_awburst, .m_axi_awlock,
    .m_axi_awcache, .m_axi_awprot, .m_axi_awvalid, .m_axi_awready, .m_axi_wdata, .m_axi_wstrb,
    .m_axi_wlast, .m_axi_wvalid, .m_axi_wready, .m_axi_bid, .m_axi_bresp, .m_axi_bvalid,
    .m_axi_bready, .m_axi_arid, .m_axi_araddr, .m_axi_arlen, .m_axi_arsize, .m_axi_arburst,
    .m_axi_arlock, .m_axi_arcache, .m_axi_arprot, .m_axi_arvalid, .m_axi_arready, .m_axi_rid,
    .m_axi_rdata, .m_axi_rresp, .m_axi_rlast, .m_axi_rvalid, .m_axi_rready
  );

  // One direction runs at a time, so writes and reads never compete for the port.
  assign hreq_valid = dwr_valid || drd_valid;
  assign hreq_we    = dwr_valid;
  assign hreq_mem   = HostMemW'(dwr_valid ? dwr_sel : drd_sel);
  assign hreq_addr  = dwr_valid ? dwr_addr : drd_addr;
  assign hreq_wdata = dwr_data;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) rsp_rd_q <= 1'b0;
    else         rsp_rd_q <= drd_valid && !dwr_valid && hreq_ready;
  end


endmodule
