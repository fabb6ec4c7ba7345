// Vector processing unit: one lane per array column, six registered stages.
//
// A row of P wide values enters per cycle and flows through, in order (docs/vpu.md has the exact
// arithmetic, models/vpu.py is the bit-exact golden model):
//   1 requant  d = sat(rshift_rne(in, shift))                         always on
//   2 bias     d = sat(d + bias[j])                                   path_i[VpuPathBias]
//   3 act      identity / relu / leaky (d < 0: sat(rshift_rne(d * slope, FracW)));  h = d
//                                                                     path_i[VpuPathAct]
//   4 loss     d = sat(rshift_rne((d - aux) * loss_scale, loss_shift)) path_i[VpuPathLoss]
//   5 deriv    d = d * act'(g), g = loss ? h : aux                    path_i[VpuPathDeriv]
//   6 bgrad    sum[j] += d (wraps, restarted by in_first_i)          path_i[VpuPathBgrad]
// A bypassed stage still registers its value, so every pathway has the same latency: in_valid_i sampled
// at edge e gives out_valid_o registered at edge e + VpuLatency - 1.
//
// Ports:
//   clk_i, rst_ni    clock, active-low asynchronous reset
//   in_valid_i       a row is presented this cycle
//   in_first_i       first row of an operation: restarts the bias-gradient sums
//   in_data_i        P wide input values (accumulator row, or sign-extended data row)
//   in_aux_i         P data values aligned with in_data_i: targets Y (loss) or cached H (deriv)
//   path_i           pathway bits (tpu_pkg::VpuPath*)
//   act_i            activation (tpu_pkg::VpuAct*; code 3 is reserved and acts as identity)
//   shift_i          stage-1 right shift, 0..31
//   slope_i          leaky-ReLU slope, a data code with FracW fraction bits
//   loss_scale_i     loss-gradient scale (e.g. 2/B), a data code
//   loss_shift_i     right shift after (d - aux) * loss_scale, 0..31
//   bias_i           P data values added in stage 2
//   out_valid_o      out_data_o holds a row
//   out_data_o       P data values
//   bgrad_o          running bias-gradient sums of the operation whose rows last left the pipeline
// Configuration, bias and aux are sampled with the row and travel down the pipeline with it, so back to
// back rows may belong to different operations.
module tpu_vpu #(
  parameter int P     = tpu_pkg::ArraySize,
  parameter int DataW = tpu_pkg::DataW,
  parameter int FracW = tpu_pkg::FracW,
  parameter int AccW  = tpu_pkg::AccW
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic                    in_valid_i,
  input  logic                    in_first_i,
  input  logic [P-1:0][AccW-1:0]  in_data_i,
  input  logic [P-1:0][DataW-1:0] in_aux_i,
  input  logic [4:0]              path_i,
  input  logic [1:0]              act_i,
  input  logic [4:0]              shift_i,
  input  logic [DataW-1:0]        slope_i,
  input  logic [DataW-1:0]        loss_scale_i,
  input  logic [4:0]              loss_shift_i,
  input  logic [P-1:0][DataW-1:0] bias_i,
  output logic                    out_valid_o,
  output logic [P-1:0][DataW-1:0] out_data_o,
  output logic [P-1:0][AccW-1:0]  bgrad_o
);

  localparam int ShiftW = 5;
  // Every rounding happens on a value sign-extended to RndW bits: wide enough for an AccW input, for
  // the exact (d - aux) * loss_scale product (2*DataW+1 bits) and for any 5-bit shift amount.
  localparam int RndW0 = (AccW > 2 * DataW + 1) ? AccW : 2 * DataW + 1;
  localparam int RndW  = (RndW0 > (1 << ShiftW)) ? RndW0 : (1 << ShiftW);

  localparam logic signed [RndW-1:0] SatMax = {{(RndW - DataW + 1){1'b0}}, {(DataW - 1){1'b1}}};
  localparam logic signed [RndW-1:0] SatMin = {{(RndW - DataW + 1){1'b1}}, {(DataW - 1){1'b0}}};
  localparam logic [ShiftW-1:0] FracShift = ShiftW'(FracW);

  localparam logic [1:0] ActRelu  = 2'(tpu_pkg::VpuActRelu);
  localparam logic [1:0] ActLeaky = 2'(tpu_pkg::VpuActLeaky);

  // ---- Arithmetic helpers ----------------------------------------------------------------------

  function automatic logic signed [RndW-1:0] sext_data(logic [DataW-1:0] x);
    return {{(RndW - DataW){x[DataW-1]}}, x};
  endfunction

  function automatic logic signed [RndW-1:0] sext_acc(logic [AccW-1:0] x);
    return {{(RndW - AccW){x[AccW-1]}}, x};
  endfunction

  // x / 2^s rounded to nearest, ties to even, then saturated to DataW. With q = floor(x / 2^s) and
  // r the bits shifted out, q is incremented when r > half or (r == half and q is odd); s = 0 gives
  // half = 0 and r = 0, so nothing rounds.
  function automatic logic [DataW-1:0] round_sat(logic signed [RndW-1:0] x, logic [ShiftW-1:0] s);
    logic signed [RndW-1:0] q;
    logic        [RndW-1:0] rem, half;
    logic                   up;
    q    = x >>> s;
    rem  = x & ~({RndW{1'b1}} << s);
    half = {{(RndW - 1){1'b0}}, 1'b1} << s >> 1;
    up   = (rem > half) || ((rem == half) && (half != '0) && q[0]);
    // q + up cannot overflow: up is only set for s >= 1, where q is at most half the RndW range.
    q    = q + {{(RndW - 1){1'b0}}, up};
    if (q > SatMax) begin
      return SatMax[DataW-1:0];
    end else if (q < SatMin) begin
      return SatMin[DataW-1:0];
    end
    return q[DataW-1:0];
  endfunction

  // Leaky-ReLU scaling: sat(rshift_rne(d * slope, FracW)); the product is exact in RndW bits.
  function automatic logic [DataW-1:0] leak(logic [DataW-1:0] d, logic [DataW-1:0] slope);
    return round_sat(sext_data(d) * sext_data(slope), FracShift);
  endfunction

  // ---- Control pipeline: shared by all lanes, each field kept only while a later stage needs it ----

  logic                    s1_valid_q, s2_valid_q, s3_valid_q, s4_valid_q, s5_valid_q, s6_valid_q;
  logic                    s1_first_q, s2_first_q, s3_first_q, s4_first_q, s5_first_q;
  logic              [4:0] s1_path_q;
  logic              [4:1] s2_path_q;
  logic              [4:2] s3_path_q;
  logic              [4:3] s4_path_q;
  logic                    s5_bgrad_q;
  logic              [1:0] s1_act_q, s2_act_q, s3_act_q, s4_act_q;
  logic        [DataW-1:0] s1_slope_q, s2_slope_q, s3_slope_q, s4_slope_q;
  logic        [DataW-1:0] s1_loss_scale_q, s2_loss_scale_q, s3_loss_scale_q;
  logic       [ShiftW-1:0] s1_loss_shift_q, s2_loss_shift_q, s3_loss_shift_q;

  // Valid and first are reset; the configuration is only loaded with a valid row, so a stage holds
  // its last row when idle (no toggling while the pipeline is empty).
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      {s1_valid_q, s2_valid_q, s3_valid_q, s4_valid_q, s5_valid_q, s6_valid_q} <= '0;
      {s1_first_q, s2_first_q, s3_first_q, s4_first_q, s5_first_q}             <= '0;
      s1_path_q       <= '0;
      s2_path_q       <= '0;
      s3_path_q       <= '0;
      s4_path_q       <= '0;
      s5_bgrad_q      <= 1'b0;
      s1_act_q        <= '0;
      s2_act_q        <= '0;
      s3_act_q        <= '0;
      s4_act_q        <= '0;
      s1_slope_q      <= '0;
      s2_slope_q      <= '0;
      s3_slope_q      <= '0;
      s4_slope_q      <= '0;
      s1_loss_scale_q <= '0;
      s2_loss_scale_q <= '0;
      s3_loss_scale_q <= '0;
      s1_loss_shift_q <= '0;
      s2_loss_shift_q <= '0;
      s3_loss_shift_q <= '0;
    end else begin
      s1_valid_q <= in_valid_i;
      s2_valid_q <= s1_valid_q;
      s3_valid_q <= s2_valid_q;
      s4_valid_q <= s3_valid_q;
      s5_valid_q <= s4_valid_q;
      s6_valid_q <= s5_valid_q;
      if (in_valid_i) begin
        s1_first_q      <= in_first_i;
        s1_path_q       <= path_i;
        s1_act_q        <= act_i;
        s1_slope_q      <= slope_i;
        s1_loss_scale_q <= loss_scale_i;
        s1_loss_shift_q <= loss_shift_i;
      end
      if (s1_valid_q) begin
        s2_first_q      <= s1_first_q;
        s2_path_q       <= s1_path_q[4:1];
        s2_act_q        <= s1_act_q;
        s2_slope_q      <= s1_slope_q;
        s2_loss_scale_q <= s1_loss_scale_q;
        s2_loss_shift_q <= s1_loss_shift_q;
      end
      if (s2_valid_q) begin
        s3_first_q      <= s2_first_q;
        s3_path_q       <= s2_path_q[4:2];
        s3_act_q        <= s2_act_q;
        s3_slope_q      <= s2_slope_q;
        s3_loss_scale_q <= s2_loss_scale_q;
        s3_loss_shift_q <= s2_loss_shift_q;
      end
      if (s3_valid_q) begin
        s4_first_q <= s3_first_q;
        s4_path_q  <= s3_path_q[4:3];
        s4_act_q   <= s3_act_q;
        s4_slope_q <= s3_slope_q;
      end
      if (s4_valid_q) begin
        s5_first_q <= s4_first_q;
        s5_bgrad_q <= s4_path_q[4];
      end
    end
  end

  logic s1_bias_en, s2_act_en, s3_loss_en, s4_deriv_en;
  assign s1_bias_en  = s1_path_q[tpu_pkg::VpuPathBias];
  assign s2_act_en   = s2_path_q[tpu_pkg::VpuPathAct];
  assign s3_loss_en  = s3_path_q[tpu_pkg::VpuPathLoss];
  assign s4_deriv_en = s4_path_q[tpu_pkg::VpuPathDeriv];

  assign out_valid_o = s6_valid_q;

  // ---- Lanes ----------------------------------------------------------------------------------

  for (genvar j = 0; j < P; j++) begin : g_lane
    // sK_d_q: the value after stage K. sK_aux_q: Y or cached H travelling with the row. s4_g_q: the
    // value whose sign selects act' in stage 5 (h when the loss stage ran, else aux).
    logic [DataW-1:0] s1_d_q, s2_d_q, s3_d_q, s4_d_q, s5_d_q, s6_d_q;
    logic [DataW-1:0] s1_aux_q, s2_aux_q, s3_aux_q, s4_g_q;
    logic [DataW-1:0] s1_bias_q;
    logic [AccW-1:0]  s6_sum_q;

    logic [DataW-1:0] s2_d_d, s3_d_d, s4_d_d, s5_d_d;
    logic [AccW-1:0]  s6_sum_d;

    // This lane's slice of the packed ports, named so that waves show one group per lane.
    logic [AccW-1:0]  lane_in_data;
    logic [DataW-1:0] lane_in_aux, lane_bias;
    assign lane_in_data = in_data_i[j];
    assign lane_in_aux  = in_aux_i[j];
    assign lane_bias    = bias_i[j];

    // Stage 1 (requantize) is computed straight into s1_d_q below.

    // Stage 2: bias add, saturating.
    assign s2_d_d = s1_bias_en ? round_sat(sext_data(s1_d_q) + sext_data(s1_bias_q), '0) : s1_d_q;

    // Stage 3: activation; only negative values change. The result is also h, the post-activation
    // value. (Continuous assignments: Icarus cannot take constant bit selects inside always_comb.)
    logic s2_neg;
    assign s2_neg = s2_d_q[DataW-1];
    assign s3_d_d = !(s2_act_en && s2_neg) ? s2_d_q :
                    (s2_act_q == ActRelu)  ? '0 :
                    (s2_act_q == ActLeaky) ? leak(s2_d_q, s2_slope_q) : s2_d_q;

    // Stage 4: MSE loss gradient; h - aux and the product are exact before the single rounding.
    assign s4_d_d = !s3_loss_en ? s3_d_q :
                    round_sat((sext_data(s3_d_q) - sext_data(s3_aux_q)) * sext_data(s3_loss_scale_q),
                              s3_loss_shift_q);

    // Stage 5: activation derivative from the post-activation value: act'(g) = 1 when g > 0.
    logic s4_g_pos;
    assign s4_g_pos = !s4_g_q[DataW-1] && (s4_g_q != '0);
    assign s5_d_d = !(s4_deriv_en && !s4_g_pos) ? s4_d_q :
                    (s4_act_q == ActRelu)  ? '0 :
                    (s4_act_q == ActLeaky) ? leak(s4_d_q, s4_slope_q) : s4_d_q;

    // Stage 6: bias-gradient sum of the operation; the first row restarts it. A disabled stage adds
    // nothing, so an operation without bgrad leaves zero sums.
    logic [AccW-1:0] s6_addend;
    assign s6_addend = s5_bgrad_q ? {{(AccW - DataW){s5_d_q[DataW-1]}}, s5_d_q} : '0;
    assign s6_sum_d  = (s5_first_q ? '0 : s6_sum_q) + s6_addend;

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        s1_d_q    <= '0;
        s1_aux_q  <= '0;
        s1_bias_q <= '0;
        s2_d_q    <= '0;
        s2_aux_q  <= '0;
        s3_d_q    <= '0;
        s3_aux_q  <= '0;
        s4_d_q    <= '0;
        s4_g_q    <= '0;
        s5_d_q    <= '0;
        s6_d_q    <= '0;
        s6_sum_q  <= '0;
      end else begin
        if (in_valid_i) begin
          s1_d_q    <= round_sat(sext_acc(lane_in_data), shift_i);
          s1_aux_q  <= lane_in_aux;
          s1_bias_q <= lane_bias;
        end
        if (s1_valid_q) begin
          s2_d_q   <= s2_d_d;
          s2_aux_q <= s1_aux_q;
        end
        if (s2_valid_q) begin
          s3_d_q   <= s3_d_d;
          s3_aux_q <= s2_aux_q;
        end
        if (s3_valid_q) begin
          s4_d_q <= s4_d_d;
          s4_g_q <= s3_loss_en ? s3_d_q : s3_aux_q;
        end
        if (s4_valid_q) begin
          s5_d_q <= s5_d_d;
        end
        if (s5_valid_q) begin
          s6_d_q   <= s5_d_q;
          s6_sum_q <= s6_sum_d;
        end
      end
    end

    assign out_data_o[j] = s6_d_q;
    assign bgrad_o[j]    = s6_sum_q;
  end

`ifdef SYSTOLE_SVA
  // The pipeline depth matches tpu_pkg::VpuLatency, the constant the core, the models and the tests
  // use: every row that enters at edge e leaves at edge e + VpuLatency - 1, and nothing else leaves.
  // (An explicit delay line rather than ##N, which Verilator only accepts with --timing.)
  logic [tpu_pkg::VpuLatency-1:0] sva_valid_q;
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      sva_valid_q <= '0;
    end else begin
      sva_valid_q <= {sva_valid_q[tpu_pkg::VpuLatency-2:0], in_valid_i};
    end
  end
  VpuLatency: assert property (@(posedge clk_i) out_valid_o == sva_valid_q[tpu_pkg::VpuLatency-1])
    else $error("tpu_vpu: out_valid_o does not follow in_valid_i by VpuLatency cycles");
`endif

endmodule
