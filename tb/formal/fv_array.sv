// fv_array: formal harness of tpu_array's double buffer (docs/architecture.md, docs/formal.md).
//
// Every input is free; the array's own rule checks (a), (b) and "a tile is P rows" become the
// assumptions (array.sby turns tpu_array's assertions into assumptions with chformal), so the rules the
// simulations assert are exactly the ones this proof relies on.
// Asserted: every PE multiplies each input row by the weight of that row's tile, i.e. PE[i][j] swaps
// to the new weight exactly when the first row of the new tile reaches it: the tile of a row is the one
// committed last before the row's x_switch_i, or the previous row's tile without a switch; and the
// product register that the next edge adds holds exactly that product (ProdOfRow).
// The reference keeps the tiles as the port sends them: rows W[P-1] first, W[0] last.
module fv_array #(
  parameter int P     = 2,
  parameter int DataW = 2,
  parameter int AccW  = 6
) (
  input logic                    clk_i,
  input logic                    rst_ni,
  input logic                    w_valid_i,
  input logic                    w_last_i,
  input logic [P-1:0][DataW-1:0] w_data_i,
  input logic                    x_valid_i,
  input logic                    x_switch_i,
  input logic [P-1:0][DataW-1:0] x_data_i
);

  localparam int D = 2 * P - 1;  // a row reaches PE[i][j] i + j edges after it is sampled

  logic                   y_valid_o;
  logic [P-1:0][AccW-1:0] y_data_o;

  tpu_array #(.P(P), .DataW(DataW), .AccW(AccW)) u_dut (.*);

  logic init_q = 1'b1;
  always_ff @(posedge clk_i) init_q <= 1'b0;
  always_comb begin
    if (init_q) ResetFirst: assume (!rst_ni);
    else ResetNever: assume (rst_ni);
  end

  typedef logic [P-1:0][P-1:0][DataW-1:0] tile_t;  // [row i][column j]

  tile_t hist_q;                 // the last P weight rows, [0] = the most recent
  tile_t wc_q [D+1];             // the committed tile, now ([0]) and k edges ago ([k])
  tile_t hist_d_q [P];           // hist_q now and k edges ago
  tile_t cur_q;                  // the tile of the last input row
  tile_t row_tile;
  tile_t tile_d_q [D];           // the tile of the row sampled k edges ago ([0]: this edge's row)
  logic  valid_d_q [D];
  logic  switch_d_q [D];
  tile_t hist_new;

  always_comb begin
    hist_new = hist_q;
    if (w_valid_i) begin
      for (int i = P - 1; i > 0; i--) hist_new[i] = hist_q[i-1];
      hist_new[0] = w_data_i;
    end
  end
  assign row_tile = x_switch_i ? wc_q[0] : cur_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      hist_q <= '0;
      cur_q  <= '0;
      for (int k = 0; k <= D; k++) wc_q[k] <= '0;
      for (int k = 0; k < P; k++) hist_d_q[k] <= '0;
      for (int k = 0; k < D; k++) begin
        tile_d_q[k]   <= '0;
        valid_d_q[k]  <= 1'b0;
        switch_d_q[k] <= 1'b0;
      end
    end else begin
      hist_q <= hist_new;
      if (w_valid_i && w_last_i) wc_q[0] <= hist_new;
      hist_d_q[0] <= hist_new;
      for (int k = 1; k <= D; k++) wc_q[k] <= wc_q[k-1];
      for (int k = 1; k < P; k++) hist_d_q[k] <= hist_d_q[k-1];
      if (x_valid_i) cur_q <= row_tile;
      tile_d_q[0]   <= row_tile;
      valid_d_q[0]  <= x_valid_i;
      switch_d_q[0] <= x_valid_i && x_switch_i;
      for (int k = 1; k < D; k++) begin
        tile_d_q[k]   <= tile_d_q[k-1];
        valid_d_q[k]  <= valid_d_q[k-1];
        switch_d_q[k] <= switch_d_q[k-1];
      end
    end
  end

  for (genvar i = 0; i < P; i++) begin : g_i
    for (genvar j = 0; j < P; j++) begin : g_j
      // The row in PE[i][j] now was sampled i + j edges ago (k = i + j - 1 in the registered line).
      logic  pe_valid, pe_swap;
      tile_t pe_tile;
      if (i + j == 0) begin : g_port
        assign pe_valid = x_valid_i;
        assign pe_swap  = x_valid_i && x_switch_i;
        assign pe_tile  = row_tile;
      end else begin : g_line
        assign pe_valid = valid_d_q[i+j-1];
        assign pe_swap  = switch_d_q[i+j-1];
        assign pe_tile  = tile_d_q[i+j-1];
      end
      // The weight of the last row that passed this PE.
      logic [DataW-1:0] act_q;
      // The exact product of the PE's row register and weight register one edge ago.
      logic [2*DataW-1:0] prod_exp_q;
      always_ff @(posedge clk_i) begin
        prod_exp_q <= (2 * DataW)'($signed(u_dut.g_row[i].g_col[j].u_pe.x_q))
                      * (2 * DataW)'($signed(u_dut.g_row[i].g_col[j].u_pe.active_q));
      end
      always_ff @(posedge clk_i) begin
        if (!rst_ni) act_q <= '0;
        else if (pe_valid) act_q <= pe_tile[i][j];
      end

      always_ff @(posedge clk_i) begin
        if (rst_ni && !init_q) begin
          // The double-buffer rule: the weight each row is multiplied by is its tile's.
          WeightOfRow: assert (!pe_valid || u_dut.g_row[i].g_col[j].u_pe.w_use == pe_tile[i][j]);
          SwapWithRow: assert ((u_dut.g_row[i].g_col[j].u_pe.x_valid_i && u_dut.g_row[i].g_col[j].u_pe.x_switch_i)
                               == pe_swap);
          // Invariants (inductive strengthening): the PE's registers as the reference predicts.
          InvValid: assert (u_dut.g_row[i].g_col[j].u_pe.x_valid_i == pe_valid);
          InvActive: assert (u_dut.g_row[i].g_col[j].u_pe.active_q == act_q);
          // A row not yet processed here, with no other such row ahead of it, continues this PE's tile
          // unless it switches.
          for (int k = 0; k < i + j; k++) begin
            logic ahead;
            ahead = 1'b0;
            for (int m = k + 1; m < i + j; m++) ahead |= valid_d_q[m];
            if (valid_d_q[k] && !switch_d_q[k] && !ahead) assert (tile_d_q[k][i][j] == act_q);
            if (switch_d_q[k]) assert (tile_d_q[k][i][j] == wc_q[k+1][i][j]);
          end
          begin
            logic any;
            any = 1'b0;
            for (int k = 0; k < i + j; k++) any |= valid_d_q[k];
            if (!any) assert (cur_q[i][j] == act_q);
          end
          InvShadow: assert (u_dut.g_row[i].g_col[j].u_pe.shadow_q == wc_q[j][i][j]);
          // The three-stage MAC: what the PE adds at this edge (prod_q, with prod_valid_q) is the exact
          // product of the row it held at the previous edge and that row's weight (x_q and active_q then,
          // prod_exp_q), so WeightOfRow and InvActive carry over to the sums.
          ProdOfRow: assert (!u_dut.g_row[i].g_col[j].u_pe.prod_valid_q
                             || u_dut.g_row[i].g_col[j].u_pe.prod_q == prod_exp_q);
          InvTransit: assert (u_dut.g_row[i].g_col[j].u_pe.transit_q == (j == 0 ? hist_q[i][j]
                                                                        : hist_d_q[j][i][j]));
        end
      end
    end
  end

  // The array's rule-checking state (its assertions are this proof's assumptions) as the history says.
  int since_exp;
  always_comb begin
    since_exp = P - 1;
    for (int k = P - 2; k >= 0; k--) if (switch_d_q[k]) since_exp = k + 1;
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      InvSince: assert (u_dut.since_q == since_exp);
      InvRows: assert (u_dut.w_rows_q >= 0 && u_dut.w_rows_q < P);
      InvPending: assert (u_dut.pending_q || cur_q == wc_q[0]);
      // Rows in flight: a row without a switch has the tile of the row ahead of it; the newest is cur_q.
      for (int k = 0; k < D; k++) begin
        logic seen, newer;
        seen = 1'b0;
        newer = 1'b0;
        for (int m = 0; m < k; m++) newer |= valid_d_q[m];
        if (valid_d_q[k] && !newer) assert (tile_d_q[k] == cur_q);
        for (int m = k + 1; m < D; m++) begin
          if (valid_d_q[k] && !switch_d_q[k] && valid_d_q[m] && !seen) assert (tile_d_q[k] == tile_d_q[m]);
          seen |= valid_d_q[m];
        end
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      CoverSwapBottomRight: cover (u_dut.g_row[P-1].g_col[P-1].u_pe.swap
                                   && u_dut.g_row[P-1].g_col[P-1].u_pe.shadow_q != u_dut.g_row[P-1].g_col[P-1].u_pe.active_q);
      CoverCommitAndSwap: cover (w_valid_i && w_last_i && u_dut.g_row[P-1].g_col[0].u_pe.swap);
      CoverTwoTiles: cover (x_valid_i && x_switch_i && wc_q[0] != cur_q && cur_q != '0);
    end
  end

endmodule
