* Source:     Pyomo MPS Writer
* Format:     Free MPS
*
NAME placement_flat
OBJSENSE
 MIN
ROWS
 N  objective
 E  c_e_demand(0)_
 E  c_e_demand(1)_
 E  c_e_demand(2)_
 L  c_u_spread(0_n0)_
 L  c_u_spread(0_n1)_
 L  c_u_spread(0_n2)_
 L  c_u_spread(0_n3)_
 L  c_u_spread(1_n0)_
 L  c_u_spread(1_n1)_
 L  c_u_spread(1_n2)_
 L  c_u_spread(1_n3)_
 L  c_u_spread(2_n0)_
 L  c_u_spread(2_n1)_
 L  c_u_spread(2_n2)_
 L  c_u_spread(2_n3)_
 L  c_u_node_share_a(0_1_n0)_
 L  c_u_node_share_a(0_1_n1)_
 L  c_u_node_share_a(0_1_n2)_
 L  c_u_node_share_a(0_1_n3)_
 L  c_u_node_share_a(1_2_n0)_
 L  c_u_node_share_a(1_2_n1)_
 L  c_u_node_share_a(1_2_n2)_
 L  c_u_node_share_a(1_2_n3)_
 L  c_u_node_share_b(0_1_n0)_
 L  c_u_node_share_b(0_1_n1)_
 L  c_u_node_share_b(0_1_n2)_
 L  c_u_node_share_b(0_1_n3)_
 L  c_u_node_share_b(1_2_n0)_
 L  c_u_node_share_b(1_2_n1)_
 L  c_u_node_share_b(1_2_n2)_
 L  c_u_node_share_b(1_2_n3)_
 L  c_u_rack_share_a(0_1_r0)_
 L  c_u_rack_share_a(0_1_r1)_
 L  c_u_rack_share_a(1_2_r0)_
 L  c_u_rack_share_a(1_2_r1)_
 L  c_u_rack_share_b(0_1_r0)_
 L  c_u_rack_share_b(0_1_r1)_
 L  c_u_rack_share_b(1_2_r0)_
 L  c_u_rack_share_b(1_2_r1)_
 E  c_e_group(0_n0_0)_
 E  c_e_group(0_n1_0)_
 E  c_e_group(0_n2_0)_
 E  c_e_group(0_n3_0)_
 E  c_e_group(1_n0_0)_
 E  c_e_group(1_n1_0)_
 E  c_e_group(1_n2_0)_
 E  c_e_group(1_n3_0)_
 E  c_e_group(2_n0_0)_
 E  c_e_group(2_n1_0)_
 E  c_e_group(2_n2_0)_
 E  c_e_group(2_n3_0)_
 L  c_u_distinct(2_n0_0)_
 L  c_u_distinct(2_n0_1)_
 L  c_u_distinct(2_n1_0)_
 L  c_u_distinct(2_n1_1)_
 L  c_u_distinct(2_n2_0)_
 L  c_u_distinct(2_n2_1)_
 L  c_u_distinct(2_n3_0)_
 L  c_u_distinct(2_n3_1)_
 L  c_u_compute(n0_0)_
 L  c_u_compute(n0_1)_
 L  c_u_compute(n1_0)_
 L  c_u_compute(n1_1)_
 L  c_u_compute(n2_0)_
 L  c_u_compute(n2_1)_
 L  c_u_compute(n3_0)_
 L  c_u_compute(n3_1)_
 L  c_u_memory(n0_0)_
 L  c_u_memory(n0_1)_
 L  c_u_memory(n1_0)_
 L  c_u_memory(n1_1)_
 L  c_u_memory(n2_0)_
 L  c_u_memory(n2_1)_
 L  c_u_memory(n3_0)_
 L  c_u_memory(n3_1)_
 L  c_u_opened(n0_0)_
 L  c_u_opened(n0_1)_
 L  c_u_opened(n1_0)_
 L  c_u_opened(n1_1)_
 L  c_u_opened(n2_0)_
 L  c_u_opened(n2_1)_
 L  c_u_opened(n3_0)_
 L  c_u_opened(n3_1)_
 L  c_u_is_full(n0_0)_
 L  c_u_is_full(n0_1)_
 L  c_u_is_full(n1_0)_
 L  c_u_is_full(n1_1)_
 L  c_u_is_full(n2_0)_
 L  c_u_is_full(n2_1)_
 L  c_u_is_full(n3_0)_
 L  c_u_is_full(n3_1)_
 L  c_u_room_compute(n0_0)_
 L  c_u_room_compute(n0_1)_
 L  c_u_room_compute(n1_0)_
 L  c_u_room_compute(n1_1)_
 L  c_u_room_compute(n2_0)_
 L  c_u_room_compute(n2_1)_
 L  c_u_room_compute(n3_0)_
 L  c_u_room_compute(n3_1)_
 L  c_u_room_memory(n0_0)_
 L  c_u_room_memory(n0_1)_
 L  c_u_room_memory(n1_0)_
 L  c_u_room_memory(n1_1)_
 L  c_u_room_memory(n2_0)_
 L  c_u_room_memory(n2_1)_
 L  c_u_room_memory(n3_0)_
 L  c_u_room_memory(n3_1)_
 L  c_u_fragmented(n0_0)_
 L  c_u_fragmented(n0_1)_
 L  c_u_fragmented(n1_0)_
 L  c_u_fragmented(n1_1)_
 L  c_u_fragmented(n2_0)_
 L  c_u_fragmented(n2_1)_
 L  c_u_fragmented(n3_0)_
 L  c_u_fragmented(n3_1)_
 L  c_u_gpu_order(n0_0_1)_
 L  c_u_gpu_order(n1_0_1)_
 L  c_u_gpu_order(n2_0_1)_
 L  c_u_gpu_order(n3_0_1)_
 E  c_e_ONE_VAR_CONSTANT
COLUMNS
     x(0_n0_0) c_e_demand(0)_ 1
     x(0_n0_0) c_u_spread(0_n0)_ 1
     x(0_n0_0) c_u_node_share_a(0_1_n0)_ -0.33333333333333331
     x(0_n0_0) c_u_rack_share_a(0_1_r0)_ -0.33333333333333331
     x(0_n0_0) c_e_group(0_n0_0)_ -1
     x(0_n1_0) c_e_demand(0)_ 1
     x(0_n1_0) c_u_spread(0_n1)_ 1
     x(0_n1_0) c_u_node_share_a(0_1_n1)_ -0.33333333333333331
     x(0_n1_0) c_u_rack_share_a(0_1_r1)_ -0.33333333333333331
     x(0_n1_0) c_e_group(0_n1_0)_ -1
     x(0_n2_0) c_e_demand(0)_ 1
     x(0_n2_0) c_u_spread(0_n2)_ 1
     x(0_n2_0) c_u_node_share_a(0_1_n2)_ -0.33333333333333331
     x(0_n2_0) c_u_rack_share_a(0_1_r0)_ -0.33333333333333331
     x(0_n2_0) c_e_group(0_n2_0)_ -1
     x(0_n3_0) c_e_demand(0)_ 1
     x(0_n3_0) c_u_spread(0_n3)_ 1
     x(0_n3_0) c_u_node_share_a(0_1_n3)_ -0.33333333333333331
     x(0_n3_0) c_u_rack_share_a(0_1_r1)_ -0.33333333333333331
     x(0_n3_0) c_e_group(0_n3_0)_ -1
     x(1_n0_0) c_e_demand(1)_ 1
     x(1_n0_0) c_u_spread(1_n0)_ 1
     x(1_n0_0) c_u_node_share_a(1_2_n0)_ -0.33333333333333331
     x(1_n0_0) c_u_node_share_b(0_1_n0)_ -0.33333333333333331
     x(1_n0_0) c_u_rack_share_a(1_2_r0)_ -0.33333333333333331
     x(1_n0_0) c_u_rack_share_b(0_1_r0)_ -0.33333333333333331
     x(1_n0_0) c_e_group(1_n0_0)_ -1
     x(1_n1_0) c_e_demand(1)_ 1
     x(1_n1_0) c_u_spread(1_n1)_ 1
     x(1_n1_0) c_u_node_share_a(1_2_n1)_ -0.33333333333333331
     x(1_n1_0) c_u_node_share_b(0_1_n1)_ -0.33333333333333331
     x(1_n1_0) c_u_rack_share_a(1_2_r1)_ -0.33333333333333331
     x(1_n1_0) c_u_rack_share_b(0_1_r1)_ -0.33333333333333331
     x(1_n1_0) c_e_group(1_n1_0)_ -1
     x(1_n2_0) c_e_demand(1)_ 1
     x(1_n2_0) c_u_spread(1_n2)_ 1
     x(1_n2_0) c_u_node_share_a(1_2_n2)_ -0.33333333333333331
     x(1_n2_0) c_u_node_share_b(0_1_n2)_ -0.33333333333333331
     x(1_n2_0) c_u_rack_share_a(1_2_r0)_ -0.33333333333333331
     x(1_n2_0) c_u_rack_share_b(0_1_r0)_ -0.33333333333333331
     x(1_n2_0) c_e_group(1_n2_0)_ -1
     x(1_n3_0) c_e_demand(1)_ 1
     x(1_n3_0) c_u_spread(1_n3)_ 1
     x(1_n3_0) c_u_node_share_a(1_2_n3)_ -0.33333333333333331
     x(1_n3_0) c_u_node_share_b(0_1_n3)_ -0.33333333333333331
     x(1_n3_0) c_u_rack_share_a(1_2_r1)_ -0.33333333333333331
     x(1_n3_0) c_u_rack_share_b(0_1_r1)_ -0.33333333333333331
     x(1_n3_0) c_e_group(1_n3_0)_ -1
     x(2_n0_0) c_e_demand(2)_ 1
     x(2_n0_0) c_u_spread(2_n0)_ 1
     x(2_n0_0) c_u_node_share_b(1_2_n0)_ -1
     x(2_n0_0) c_u_rack_share_b(1_2_r0)_ -1
     x(2_n0_0) c_e_group(2_n0_0)_ -2
     x(2_n0_0) c_u_distinct(2_n0_0)_ -1
     x(2_n0_0) c_u_distinct(2_n0_1)_ -1
     x(2_n1_0) c_e_demand(2)_ 1
     x(2_n1_0) c_u_spread(2_n1)_ 1
     x(2_n1_0) c_u_node_share_b(1_2_n1)_ -1
     x(2_n1_0) c_u_rack_share_b(1_2_r1)_ -1
     x(2_n1_0) c_e_group(2_n1_0)_ -2
     x(2_n1_0) c_u_distinct(2_n1_0)_ -1
     x(2_n1_0) c_u_distinct(2_n1_1)_ -1
     x(2_n2_0) c_e_demand(2)_ 1
     x(2_n2_0) c_u_spread(2_n2)_ 1
     x(2_n2_0) c_u_node_share_b(1_2_n2)_ -1
     x(2_n2_0) c_u_rack_share_b(1_2_r0)_ -1
     x(2_n2_0) c_e_group(2_n2_0)_ -2
     x(2_n2_0) c_u_distinct(2_n2_0)_ -1
     x(2_n2_0) c_u_distinct(2_n2_1)_ -1
     x(2_n3_0) c_e_demand(2)_ 1
     x(2_n3_0) c_u_spread(2_n3)_ 1
     x(2_n3_0) c_u_node_share_b(1_2_n3)_ -1
     x(2_n3_0) c_u_rack_share_b(1_2_r1)_ -1
     x(2_n3_0) c_e_group(2_n3_0)_ -2
     x(2_n3_0) c_u_distinct(2_n3_0)_ -1
     x(2_n3_0) c_u_distinct(2_n3_1)_ -1
     v(n0) objective 3
     v(n0) c_u_opened(n0_0)_ -1
     v(n0) c_u_opened(n0_1)_ -1
     v(n1) objective 3
     v(n1) c_u_opened(n1_0)_ -1
     v(n1) c_u_opened(n1_1)_ -1
     v(n2) objective 3
     v(n2) c_u_opened(n2_0)_ -1
     v(n2) c_u_opened(n2_1)_ -1
     v(n3) objective 3
     v(n3) c_u_opened(n3_0)_ -1
     v(n3) c_u_opened(n3_1)_ -1
     excess(0_n0) objective 1215
     excess(0_n0) c_u_spread(0_n0)_ -1
     excess(0_n1) objective 1215
     excess(0_n1) c_u_spread(0_n1)_ -1
     excess(0_n2) objective 1215
     excess(0_n2) c_u_spread(0_n2)_ -1
     excess(0_n3) objective 1215
     excess(0_n3) c_u_spread(0_n3)_ -1
     excess(1_n0) objective 1215
     excess(1_n0) c_u_spread(1_n0)_ -1
     excess(1_n1) objective 1215
     excess(1_n1) c_u_spread(1_n1)_ -1
     excess(1_n2) objective 1215
     excess(1_n2) c_u_spread(1_n2)_ -1
     excess(1_n3) objective 1215
     excess(1_n3) c_u_spread(1_n3)_ -1
     excess(2_n0) objective 1215
     excess(2_n0) c_u_spread(2_n0)_ -1
     excess(2_n1) objective 1215
     excess(2_n1) c_u_spread(2_n1)_ -1
     excess(2_n2) objective 1215
     excess(2_n2) c_u_spread(2_n2)_ -1
     excess(2_n3) objective 1215
     excess(2_n3) c_u_spread(2_n3)_ -1
     node_overlap(0_1_n0) objective -0.66666666666666663
     node_overlap(0_1_n0) c_u_node_share_a(0_1_n0)_ 1
     node_overlap(0_1_n0) c_u_node_share_b(0_1_n0)_ 1
     node_overlap(0_1_n1) objective -0.66666666666666663
     node_overlap(0_1_n1) c_u_node_share_a(0_1_n1)_ 1
     node_overlap(0_1_n1) c_u_node_share_b(0_1_n1)_ 1
     node_overlap(0_1_n2) objective -0.66666666666666663
     node_overlap(0_1_n2) c_u_node_share_a(0_1_n2)_ 1
     node_overlap(0_1_n2) c_u_node_share_b(0_1_n2)_ 1
     node_overlap(0_1_n3) objective -0.66666666666666663
     node_overlap(0_1_n3) c_u_node_share_a(0_1_n3)_ 1
     node_overlap(0_1_n3) c_u_node_share_b(0_1_n3)_ 1
     node_overlap(1_2_n0) objective -0.33333333333333331
     node_overlap(1_2_n0) c_u_node_share_a(1_2_n0)_ 1
     node_overlap(1_2_n0) c_u_node_share_b(1_2_n0)_ 1
     node_overlap(1_2_n1) objective -0.33333333333333331
     node_overlap(1_2_n1) c_u_node_share_a(1_2_n1)_ 1
     node_overlap(1_2_n1) c_u_node_share_b(1_2_n1)_ 1
     node_overlap(1_2_n2) objective -0.33333333333333331
     node_overlap(1_2_n2) c_u_node_share_a(1_2_n2)_ 1
     node_overlap(1_2_n2) c_u_node_share_b(1_2_n2)_ 1
     node_overlap(1_2_n3) objective -0.33333333333333331
     node_overlap(1_2_n3) c_u_node_share_a(1_2_n3)_ 1
     node_overlap(1_2_n3) c_u_node_share_b(1_2_n3)_ 1
     rack_overlap(0_1_r0) objective -0.66666666666666663
     rack_overlap(0_1_r0) c_u_rack_share_a(0_1_r0)_ 1
     rack_overlap(0_1_r0) c_u_rack_share_b(0_1_r0)_ 1
     rack_overlap(0_1_r1) objective -0.66666666666666663
     rack_overlap(0_1_r1) c_u_rack_share_a(0_1_r1)_ 1
     rack_overlap(0_1_r1) c_u_rack_share_b(0_1_r1)_ 1
     rack_overlap(1_2_r0) objective -0.33333333333333331
     rack_overlap(1_2_r0) c_u_rack_share_a(1_2_r0)_ 1
     rack_overlap(1_2_r0) c_u_rack_share_b(1_2_r0)_ 1
     rack_overlap(1_2_r1) objective -0.33333333333333331
     rack_overlap(1_2_r1) c_u_rack_share_a(1_2_r1)_ 1
     rack_overlap(1_2_r1) c_u_rack_share_b(1_2_r1)_ 1
     z(0_n0_0) c_e_group(0_n0_0)_ 1
     z(0_n0_0) c_u_compute(n0_0)_ 0.5
     z(0_n0_0) c_u_memory(n0_0)_ 36
     z(0_n0_0) c_u_is_full(n0_0)_ -0.5
     z(0_n0_0) c_u_room_compute(n0_0)_ 0.5
     z(0_n0_0) c_u_room_memory(n0_0)_ 36
     z(0_n0_0) c_u_gpu_order(n0_0_1)_ -0.5
     z(0_n0_1) c_e_group(0_n0_0)_ 1
     z(0_n0_1) c_u_compute(n0_1)_ 0.5
     z(0_n0_1) c_u_memory(n0_1)_ 36
     z(0_n0_1) c_u_is_full(n0_1)_ -0.5
     z(0_n0_1) c_u_room_compute(n0_1)_ 0.5
     z(0_n0_1) c_u_room_memory(n0_1)_ 36
     z(0_n0_1) c_u_gpu_order(n0_0_1)_ 0.5
     z(0_n1_0) c_e_group(0_n1_0)_ 1
     z(0_n1_0) c_u_compute(n1_0)_ 0.5
     z(0_n1_0) c_u_memory(n1_0)_ 36
     z(0_n1_0) c_u_is_full(n1_0)_ -0.5
     z(0_n1_0) c_u_room_compute(n1_0)_ 0.5
     z(0_n1_0) c_u_room_memory(n1_0)_ 36
     z(0_n1_0) c_u_gpu_order(n1_0_1)_ -0.5
     z(0_n1_1) c_e_group(0_n1_0)_ 1
     z(0_n1_1) c_u_compute(n1_1)_ 0.5
     z(0_n1_1) c_u_memory(n1_1)_ 36
     z(0_n1_1) c_u_is_full(n1_1)_ -0.5
     z(0_n1_1) c_u_room_compute(n1_1)_ 0.5
     z(0_n1_1) c_u_room_memory(n1_1)_ 36
     z(0_n1_1) c_u_gpu_order(n1_0_1)_ 0.5
     z(0_n2_0) c_e_group(0_n2_0)_ 1
     z(0_n2_0) c_u_compute(n2_0)_ 0.5
     z(0_n2_0) c_u_memory(n2_0)_ 36
     z(0_n2_0) c_u_is_full(n2_0)_ -0.5
     z(0_n2_0) c_u_room_compute(n2_0)_ 0.5
     z(0_n2_0) c_u_room_memory(n2_0)_ 36
     z(0_n2_0) c_u_gpu_order(n2_0_1)_ -0.5
     z(0_n2_1) c_e_group(0_n2_0)_ 1
     z(0_n2_1) c_u_compute(n2_1)_ 0.5
     z(0_n2_1) c_u_memory(n2_1)_ 36
     z(0_n2_1) c_u_is_full(n2_1)_ -0.5
     z(0_n2_1) c_u_room_compute(n2_1)_ 0.5
     z(0_n2_1) c_u_room_memory(n2_1)_ 36
     z(0_n2_1) c_u_gpu_order(n2_0_1)_ 0.5
     z(0_n3_0) c_e_group(0_n3_0)_ 1
     z(0_n3_0) c_u_compute(n3_0)_ 0.5
     z(0_n3_0) c_u_memory(n3_0)_ 36
     z(0_n3_0) c_u_is_full(n3_0)_ -0.5
     z(0_n3_0) c_u_room_compute(n3_0)_ 0.5
     z(0_n3_0) c_u_room_memory(n3_0)_ 36
     z(0_n3_0) c_u_gpu_order(n3_0_1)_ -0.5
     z(0_n3_1) c_e_group(0_n3_0)_ 1
     z(0_n3_1) c_u_compute(n3_1)_ 0.5
     z(0_n3_1) c_u_memory(n3_1)_ 36
     z(0_n3_1) c_u_is_full(n3_1)_ -0.5
     z(0_n3_1) c_u_room_compute(n3_1)_ 0.5
     z(0_n3_1) c_u_room_memory(n3_1)_ 36
     z(0_n3_1) c_u_gpu_order(n3_0_1)_ 0.5
     z(1_n0_0) c_e_group(1_n0_0)_ 1
     z(1_n0_0) c_u_compute(n0_0)_ 0.5
     z(1_n0_0) c_u_memory(n0_0)_ 36
     z(1_n0_0) c_u_is_full(n0_0)_ -0.5
     z(1_n0_0) c_u_room_compute(n0_0)_ 0.5
     z(1_n0_0) c_u_room_memory(n0_0)_ 36
     z(1_n0_0) c_u_gpu_order(n0_0_1)_ -0.5
     z(1_n0_1) c_e_group(1_n0_0)_ 1
     z(1_n0_1) c_u_compute(n0_1)_ 0.5
     z(1_n0_1) c_u_memory(n0_1)_ 36
     z(1_n0_1) c_u_is_full(n0_1)_ -0.5
     z(1_n0_1) c_u_room_compute(n0_1)_ 0.5
     z(1_n0_1) c_u_room_memory(n0_1)_ 36
     z(1_n0_1) c_u_gpu_order(n0_0_1)_ 0.5
     z(1_n1_0) c_e_group(1_n1_0)_ 1
     z(1_n1_0) c_u_compute(n1_0)_ 0.5
     z(1_n1_0) c_u_memory(n1_0)_ 36
     z(1_n1_0) c_u_is_full(n1_0)_ -0.5
     z(1_n1_0) c_u_room_compute(n1_0)_ 0.5
     z(1_n1_0) c_u_room_memory(n1_0)_ 36
     z(1_n1_0) c_u_gpu_order(n1_0_1)_ -0.5
     z(1_n1_1) c_e_group(1_n1_0)_ 1
     z(1_n1_1) c_u_compute(n1_1)_ 0.5
     z(1_n1_1) c_u_memory(n1_1)_ 36
     z(1_n1_1) c_u_is_full(n1_1)_ -0.5
     z(1_n1_1) c_u_room_compute(n1_1)_ 0.5
     z(1_n1_1) c_u_room_memory(n1_1)_ 36
     z(1_n1_1) c_u_gpu_order(n1_0_1)_ 0.5
     z(1_n2_0) c_e_group(1_n2_0)_ 1
     z(1_n2_0) c_u_compute(n2_0)_ 0.5
     z(1_n2_0) c_u_memory(n2_0)_ 36
     z(1_n2_0) c_u_is_full(n2_0)_ -0.5
     z(1_n2_0) c_u_room_compute(n2_0)_ 0.5
     z(1_n2_0) c_u_room_memory(n2_0)_ 36
     z(1_n2_0) c_u_gpu_order(n2_0_1)_ -0.5
     z(1_n2_1) c_e_group(1_n2_0)_ 1
     z(1_n2_1) c_u_compute(n2_1)_ 0.5
     z(1_n2_1) c_u_memory(n2_1)_ 36
     z(1_n2_1) c_u_is_full(n2_1)_ -0.5
     z(1_n2_1) c_u_room_compute(n2_1)_ 0.5
     z(1_n2_1) c_u_room_memory(n2_1)_ 36
     z(1_n2_1) c_u_gpu_order(n2_0_1)_ 0.5
     z(1_n3_0) c_e_group(1_n3_0)_ 1
     z(1_n3_0) c_u_compute(n3_0)_ 0.5
     z(1_n3_0) c_u_memory(n3_0)_ 36
     z(1_n3_0) c_u_is_full(n3_0)_ -0.5
     z(1_n3_0) c_u_room_compute(n3_0)_ 0.5
     z(1_n3_0) c_u_room_memory(n3_0)_ 36
     z(1_n3_0) c_u_gpu_order(n3_0_1)_ -0.5
     z(1_n3_1) c_e_group(1_n3_0)_ 1
     z(1_n3_1) c_u_compute(n3_1)_ 0.5
     z(1_n3_1) c_u_memory(n3_1)_ 36
     z(1_n3_1) c_u_is_full(n3_1)_ -0.5
     z(1_n3_1) c_u_room_compute(n3_1)_ 0.5
     z(1_n3_1) c_u_room_memory(n3_1)_ 36
     z(1_n3_1) c_u_gpu_order(n3_0_1)_ 0.5
     z(2_n0_0) c_e_group(2_n0_0)_ 1
     z(2_n0_0) c_u_distinct(2_n0_0)_ 1
     z(2_n0_0) c_u_compute(n0_0)_ 0.625
     z(2_n0_0) c_u_memory(n0_0)_ 45
     z(2_n0_0) c_u_is_full(n0_0)_ -0.625
     z(2_n0_0) c_u_room_compute(n0_0)_ 0.625
     z(2_n0_0) c_u_room_memory(n0_0)_ 45
     z(2_n0_0) c_u_gpu_order(n0_0_1)_ -0.625
     z(2_n0_1) c_e_group(2_n0_0)_ 1
     z(2_n0_1) c_u_distinct(2_n0_1)_ 1
     z(2_n0_1) c_u_compute(n0_1)_ 0.625
     z(2_n0_1) c_u_memory(n0_1)_ 45
     z(2_n0_1) c_u_is_full(n0_1)_ -0.625
     z(2_n0_1) c_u_room_compute(n0_1)_ 0.625
     z(2_n0_1) c_u_room_memory(n0_1)_ 45
     z(2_n0_1) c_u_gpu_order(n0_0_1)_ 0.625
     z(2_n1_0) c_e_group(2_n1_0)_ 1
     z(2_n1_0) c_u_distinct(2_n1_0)_ 1
     z(2_n1_0) c_u_compute(n1_0)_ 0.625
     z(2_n1_0) c_u_memory(n1_0)_ 45
     z(2_n1_0) c_u_is_full(n1_0)_ -0.625
     z(2_n1_0) c_u_room_compute(n1_0)_ 0.625
     z(2_n1_0) c_u_room_memory(n1_0)_ 45
     z(2_n1_0) c_u_gpu_order(n1_0_1)_ -0.625
     z(2_n1_1) c_e_group(2_n1_0)_ 1
     z(2_n1_1) c_u_distinct(2_n1_1)_ 1
     z(2_n1_1) c_u_compute(n1_1)_ 0.625
     z(2_n1_1) c_u_memory(n1_1)_ 45
     z(2_n1_1) c_u_is_full(n1_1)_ -0.625
     z(2_n1_1) c_u_room_compute(n1_1)_ 0.625
     z(2_n1_1) c_u_room_memory(n1_1)_ 45
     z(2_n1_1) c_u_gpu_order(n1_0_1)_ 0.625
     z(2_n2_0) c_e_group(2_n2_0)_ 1
     z(2_n2_0) c_u_distinct(2_n2_0)_ 1
     z(2_n2_0) c_u_compute(n2_0)_ 0.625
     z(2_n2_0) c_u_memory(n2_0)_ 45
     z(2_n2_0) c_u_is_full(n2_0)_ -0.625
     z(2_n2_0) c_u_room_compute(n2_0)_ 0.625
     z(2_n2_0) c_u_room_memory(n2_0)_ 45
     z(2_n2_0) c_u_gpu_order(n2_0_1)_ -0.625
     z(2_n2_1) c_e_group(2_n2_0)_ 1
     z(2_n2_1) c_u_distinct(2_n2_1)_ 1
     z(2_n2_1) c_u_compute(n2_1)_ 0.625
     z(2_n2_1) c_u_memory(n2_1)_ 45
     z(2_n2_1) c_u_is_full(n2_1)_ -0.625
     z(2_n2_1) c_u_room_compute(n2_1)_ 0.625
     z(2_n2_1) c_u_room_memory(n2_1)_ 45
     z(2_n2_1) c_u_gpu_order(n2_0_1)_ 0.625
     z(2_n3_0) c_e_group(2_n3_0)_ 1
     z(2_n3_0) c_u_distinct(2_n3_0)_ 1
     z(2_n3_0) c_u_compute(n3_0)_ 0.625
     z(2_n3_0) c_u_memory(n3_0)_ 45
     z(2_n3_0) c_u_is_full(n3_0)_ -0.625
     z(2_n3_0) c_u_room_compute(n3_0)_ 0.625
     z(2_n3_0) c_u_room_memory(n3_0)_ 45
     z(2_n3_0) c_u_gpu_order(n3_0_1)_ -0.625
     z(2_n3_1) c_e_group(2_n3_0)_ 1
     z(2_n3_1) c_u_distinct(2_n3_1)_ 1
     z(2_n3_1) c_u_compute(n3_1)_ 0.625
     z(2_n3_1) c_u_memory(n3_1)_ 45
     z(2_n3_1) c_u_is_full(n3_1)_ -0.625
     z(2_n3_1) c_u_room_compute(n3_1)_ 0.625
     z(2_n3_1) c_u_room_memory(n3_1)_ 45
     z(2_n3_1) c_u_gpu_order(n3_0_1)_ 0.625
     u(n0_0) objective 15
     u(n0_0) c_u_compute(n0_0)_ -1
     u(n0_0) c_u_memory(n0_0)_ -76
     u(n0_0) c_u_opened(n0_0)_ 1
     u(n0_0) c_u_fragmented(n0_0)_ 1
     u(n0_1) objective 15
     u(n0_1) c_u_compute(n0_1)_ -1
     u(n0_1) c_u_memory(n0_1)_ -76
     u(n0_1) c_u_opened(n0_1)_ 1
     u(n0_1) c_u_fragmented(n0_1)_ 1
     u(n1_0) objective 15
     u(n1_0) c_u_compute(n1_0)_ -1
     u(n1_0) c_u_memory(n1_0)_ -76
     u(n1_0) c_u_opened(n1_0)_ 1
     u(n1_0) c_u_fragmented(n1_0)_ 1
     u(n1_1) objective 15
     u(n1_1) c_u_compute(n1_1)_ -1
     u(n1_1) c_u_memory(n1_1)_ -76
     u(n1_1) c_u_opened(n1_1)_ 1
     u(n1_1) c_u_fragmented(n1_1)_ 1
     u(n2_0) objective 15
     u(n2_0) c_u_compute(n2_0)_ -1
     u(n2_0) c_u_memory(n2_0)_ -76
     u(n2_0) c_u_opened(n2_0)_ 1
     u(n2_0) c_u_fragmented(n2_0)_ 1
     u(n2_1) objective 15
     u(n2_1) c_u_compute(n2_1)_ -1
     u(n2_1) c_u_memory(n2_1)_ -76
     u(n2_1) c_u_opened(n2_1)_ 1
     u(n2_1) c_u_fragmented(n2_1)_ 1
     u(n3_0) objective 15
     u(n3_0) c_u_compute(n3_0)_ -1
     u(n3_0) c_u_memory(n3_0)_ -76
     u(n3_0) c_u_opened(n3_0)_ 1
     u(n3_0) c_u_fragmented(n3_0)_ 1
     u(n3_1) objective 15
     u(n3_1) c_u_compute(n3_1)_ -1
     u(n3_1) c_u_memory(n3_1)_ -76
     u(n3_1) c_u_opened(n3_1)_ 1
     u(n3_1) c_u_fragmented(n3_1)_ 1
     full(n0_0) c_u_is_full(n0_0)_ 0.99999899999999997
     full(n0_0) c_u_fragmented(n0_0)_ -1
     full(n0_1) c_u_is_full(n0_1)_ 0.99999899999999997
     full(n0_1) c_u_fragmented(n0_1)_ -1
     full(n1_0) c_u_is_full(n1_0)_ 0.99999899999999997
     full(n1_0) c_u_fragmented(n1_0)_ -1
     full(n1_1) c_u_is_full(n1_1)_ 0.99999899999999997
     full(n1_1) c_u_fragmented(n1_1)_ -1
     full(n2_0) c_u_is_full(n2_0)_ 0.99999899999999997
     full(n2_0) c_u_fragmented(n2_0)_ -1
     full(n2_1) c_u_is_full(n2_1)_ 0.99999899999999997
     full(n2_1) c_u_fragmented(n2_1)_ -1
     full(n3_0) c_u_is_full(n3_0)_ 0.99999899999999997
     full(n3_0) c_u_fragmented(n3_0)_ -1
     full(n3_1) c_u_is_full(n3_1)_ 0.99999899999999997
     full(n3_1) c_u_fragmented(n3_1)_ -1
     room(n0_0) c_u_room_compute(n0_0)_ 0.5
     room(n0_0) c_u_room_memory(n0_0)_ 36
     room(n0_0) c_u_fragmented(n0_0)_ -1
     room(n0_1) c_u_room_compute(n0_1)_ 0.5
     room(n0_1) c_u_room_memory(n0_1)_ 36
     room(n0_1) c_u_fragmented(n0_1)_ -1
     room(n1_0) c_u_room_compute(n1_0)_ 0.5
     room(n1_0) c_u_room_memory(n1_0)_ 36
     room(n1_0) c_u_fragmented(n1_0)_ -1
     room(n1_1) c_u_room_compute(n1_1)_ 0.5
     room(n1_1) c_u_room_memory(n1_1)_ 36
     room(n1_1) c_u_fragmented(n1_1)_ -1
     room(n2_0) c_u_room_compute(n2_0)_ 0.5
     room(n2_0) c_u_room_memory(n2_0)_ 36
     room(n2_0) c_u_fragmented(n2_0)_ -1
     room(n2_1) c_u_room_compute(n2_1)_ 0.5
     room(n2_1) c_u_room_memory(n2_1)_ 36
     room(n2_1) c_u_fragmented(n2_1)_ -1
     room(n3_0) c_u_room_compute(n3_0)_ 0.5
     room(n3_0) c_u_room_memory(n3_0)_ 36
     room(n3_0) c_u_fragmented(n3_0)_ -1
     room(n3_1) c_u_room_compute(n3_1)_ 0.5
     room(n3_1) c_u_room_memory(n3_1)_ 36
     room(n3_1) c_u_fragmented(n3_1)_ -1
     frag(n0_0) objective 135
     frag(n0_0) c_u_fragmented(n0_0)_ -1
     frag(n0_1) objective 135
     frag(n0_1) c_u_fragmented(n0_1)_ -1
     frag(n1_0) objective 135
     frag(n1_0) c_u_fragmented(n1_0)_ -1
     frag(n1_1) objective 135
     frag(n1_1) c_u_fragmented(n1_1)_ -1
     frag(n2_0) objective 135
     frag(n2_0) c_u_fragmented(n2_0)_ -1
     frag(n2_1) objective 135
     frag(n2_1) c_u_fragmented(n2_1)_ -1
     frag(n3_0) objective 135
     frag(n3_0) c_u_fragmented(n3_0)_ -1
     frag(n3_1) objective 135
     frag(n3_1) c_u_fragmented(n3_1)_ -1
     ONE_VAR_CONSTANT objective 2
     ONE_VAR_CONSTANT c_e_ONE_VAR_CONSTANT 1
RHS
     RHS c_e_demand(0)_ 3
     RHS c_e_demand(1)_ 3
     RHS c_e_demand(2)_ 1
     RHS c_u_spread(0_n0)_ 1
     RHS c_u_spread(0_n1)_ 1
     RHS c_u_spread(0_n2)_ 1
     RHS c_u_spread(0_n3)_ 1
     RHS c_u_spread(1_n0)_ 1
     RHS c_u_spread(1_n1)_ 1
     RHS c_u_spread(1_n2)_ 1
     RHS c_u_spread(1_n3)_ 1
     RHS c_u_spread(2_n0)_ 1
     RHS c_u_spread(2_n1)_ 1
     RHS c_u_spread(2_n2)_ 1
     RHS c_u_spread(2_n3)_ 1
     RHS c_u_node_share_a(0_1_n0)_ 0
     RHS c_u_node_share_a(0_1_n1)_ 0
     RHS c_u_node_share_a(0_1_n2)_ 0
     RHS c_u_node_share_a(0_1_n3)_ 0
     RHS c_u_node_share_a(1_2_n0)_ 0
     RHS c_u_node_share_a(1_2_n1)_ 0
     RHS c_u_node_share_a(1_2_n2)_ 0
     RHS c_u_node_share_a(1_2_n3)_ 0
     RHS c_u_node_share_b(0_1_n0)_ 0
     RHS c_u_node_share_b(0_1_n1)_ 0
     RHS c_u_node_share_b(0_1_n2)_ 0
     RHS c_u_node_share_b(0_1_n3)_ 0
     RHS c_u_node_share_b(1_2_n0)_ 0
     RHS c_u_node_share_b(1_2_n1)_ 0
     RHS c_u_node_share_b(1_2_n2)_ 0
     RHS c_u_node_share_b(1_2_n3)_ 0
     RHS c_u_rack_share_a(0_1_r0)_ 0
     RHS c_u_rack_share_a(0_1_r1)_ 0
     RHS c_u_rack_share_a(1_2_r0)_ 0
     RHS c_u_rack_share_a(1_2_r1)_ 0
     RHS c_u_rack_share_b(0_1_r0)_ 0
     RHS c_u_rack_share_b(0_1_r1)_ 0
     RHS c_u_rack_share_b(1_2_r0)_ 0
     RHS c_u_rack_share_b(1_2_r1)_ 0
     RHS c_e_group(0_n0_0)_ 0
     RHS c_e_group(0_n1_0)_ 0
     RHS c_e_group(0_n2_0)_ 0
     RHS c_e_group(0_n3_0)_ 0
     RHS c_e_group(1_n0_0)_ 0
     RHS c_e_group(1_n1_0)_ 0
     RHS c_e_group(1_n2_0)_ 0
     RHS c_e_group(1_n3_0)_ 0
     RHS c_e_group(2_n0_0)_ 0
     RHS c_e_group(2_n1_0)_ 0
     RHS c_e_group(2_n2_0)_ 0
     RHS c_e_group(2_n3_0)_ 0
     RHS c_u_distinct(2_n0_0)_ 0
     RHS c_u_distinct(2_n0_1)_ 0
     RHS c_u_distinct(2_n1_0)_ 0
     RHS c_u_distinct(2_n1_1)_ 0
     RHS c_u_distinct(2_n2_0)_ 0
     RHS c_u_distinct(2_n2_1)_ 0
     RHS c_u_distinct(2_n3_0)_ 0
     RHS c_u_distinct(2_n3_1)_ 0
     RHS c_u_compute(n0_0)_ 0
     RHS c_u_compute(n0_1)_ 0
     RHS c_u_compute(n1_0)_ 0
     RHS c_u_compute(n1_1)_ 0
     RHS c_u_compute(n2_0)_ 0
     RHS c_u_compute(n2_1)_ 0
     RHS c_u_compute(n3_0)_ 0
     RHS c_u_compute(n3_1)_ 0
     RHS c_u_memory(n0_0)_ 0
     RHS c_u_memory(n0_1)_ 0
     RHS c_u_memory(n1_0)_ 0
     RHS c_u_memory(n1_1)_ 0
     RHS c_u_memory(n2_0)_ 0
     RHS c_u_memory(n2_1)_ 0
     RHS c_u_memory(n3_0)_ 0
     RHS c_u_memory(n3_1)_ 0
     RHS c_u_opened(n0_0)_ 0
     RHS c_u_opened(n0_1)_ 0
     RHS c_u_opened(n1_0)_ 0
     RHS c_u_opened(n1_1)_ 0
     RHS c_u_opened(n2_0)_ 0
     RHS c_u_opened(n2_1)_ 0
     RHS c_u_opened(n3_0)_ 0
     RHS c_u_opened(n3_1)_ 0
     RHS c_u_is_full(n0_0)_ 0
     RHS c_u_is_full(n0_1)_ 0
     RHS c_u_is_full(n1_0)_ 0
     RHS c_u_is_full(n1_1)_ 0
     RHS c_u_is_full(n2_0)_ 0
     RHS c_u_is_full(n2_1)_ 0
     RHS c_u_is_full(n3_0)_ 0
     RHS c_u_is_full(n3_1)_ 0
     RHS c_u_room_compute(n0_0)_ 1
     RHS c_u_room_compute(n0_1)_ 1
     RHS c_u_room_compute(n1_0)_ 1
     RHS c_u_room_compute(n1_1)_ 1
     RHS c_u_room_compute(n2_0)_ 1
     RHS c_u_room_compute(n2_1)_ 1
     RHS c_u_room_compute(n3_0)_ 1
     RHS c_u_room_compute(n3_1)_ 1
     RHS c_u_room_memory(n0_0)_ 76
     RHS c_u_room_memory(n0_1)_ 76
     RHS c_u_room_memory(n1_0)_ 76
     RHS c_u_room_memory(n1_1)_ 76
     RHS c_u_room_memory(n2_0)_ 76
     RHS c_u_room_memory(n2_1)_ 76
     RHS c_u_room_memory(n3_0)_ 76
     RHS c_u_room_memory(n3_1)_ 76
     RHS c_u_fragmented(n0_0)_ 0
     RHS c_u_fragmented(n0_1)_ 0
     RHS c_u_fragmented(n1_0)_ 0
     RHS c_u_fragmented(n1_1)_ 0
     RHS c_u_fragmented(n2_0)_ 0
     RHS c_u_fragmented(n2_1)_ 0
     RHS c_u_fragmented(n3_0)_ 0
     RHS c_u_fragmented(n3_1)_ 0
     RHS c_u_gpu_order(n0_0_1)_ 0
     RHS c_u_gpu_order(n1_0_1)_ 0
     RHS c_u_gpu_order(n2_0_1)_ 0
     RHS c_u_gpu_order(n3_0_1)_ 0
     RHS c_e_ONE_VAR_CONSTANT 1
BOUNDS
 LI BOUND x(0_n0_0) 0
 UI BOUND x(0_n0_0) 3
 LI BOUND x(0_n1_0) 0
 UI BOUND x(0_n1_0) 3
 LI BOUND x(0_n2_0) 0
 UI BOUND x(0_n2_0) 3
 LI BOUND x(0_n3_0) 0
 UI BOUND x(0_n3_0) 3
 LI BOUND x(1_n0_0) 0
 UI BOUND x(1_n0_0) 3
 LI BOUND x(1_n1_0) 0
 UI BOUND x(1_n1_0) 3
 LI BOUND x(1_n2_0) 0
 UI BOUND x(1_n2_0) 3
 LI BOUND x(1_n3_0) 0
 UI BOUND x(1_n3_0) 3
 LI BOUND x(2_n0_0) 0
 UI BOUND x(2_n0_0) 1
 LI BOUND x(2_n1_0) 0
 UI BOUND x(2_n1_0) 1
 LI BOUND x(2_n2_0) 0
 UI BOUND x(2_n2_0) 1
 LI BOUND x(2_n3_0) 0
 UI BOUND x(2_n3_0) 1
 BV BOUND v(n0)
 BV BOUND v(n1)
 BV BOUND v(n2)
 BV BOUND v(n3)
 LO BOUND excess(0_n0) 0
 LO BOUND excess(0_n1) 0
 LO BOUND excess(0_n2) 0
 LO BOUND excess(0_n3) 0
 LO BOUND excess(1_n0) 0
 LO BOUND excess(1_n1) 0
 LO BOUND excess(1_n2) 0
 LO BOUND excess(1_n3) 0
 LO BOUND excess(2_n0) 0
 LO BOUND excess(2_n1) 0
 LO BOUND excess(2_n2) 0
 LO BOUND excess(2_n3) 0
 LO BOUND node_overlap(0_1_n0) 0
 UP BOUND node_overlap(0_1_n0) 1
 LO BOUND node_overlap(0_1_n1) 0
 UP BOUND node_overlap(0_1_n1) 1
 LO BOUND node_overlap(0_1_n2) 0
 UP BOUND node_overlap(0_1_n2) 1
 LO BOUND node_overlap(0_1_n3) 0
 UP BOUND node_overlap(0_1_n3) 1
 LO BOUND node_overlap(1_2_n0) 0
 UP BOUND node_overlap(1_2_n0) 1
 LO BOUND node_overlap(1_2_n1) 0
 UP BOUND node_overlap(1_2_n1) 1
 LO BOUND node_overlap(1_2_n2) 0
 UP BOUND node_overlap(1_2_n2) 1
 LO BOUND node_overlap(1_2_n3) 0
 UP BOUND node_overlap(1_2_n3) 1
 LO BOUND rack_overlap(0_1_r0) 0
 UP BOUND rack_overlap(0_1_r0) 1
 LO BOUND rack_overlap(0_1_r1) 0
 UP BOUND rack_overlap(0_1_r1) 1
 LO BOUND rack_overlap(1_2_r0) 0
 UP BOUND rack_overlap(1_2_r0) 1
 LO BOUND rack_overlap(1_2_r1) 0
 UP BOUND rack_overlap(1_2_r1) 1
 LI BOUND z(0_n0_0) 0
 UI BOUND z(0_n0_0) 2
 LI BOUND z(0_n0_1) 0
 UI BOUND z(0_n0_1) 2
 LI BOUND z(0_n1_0) 0
 UI BOUND z(0_n1_0) 2
 LI BOUND z(0_n1_1) 0
 UI BOUND z(0_n1_1) 2
 LI BOUND z(0_n2_0) 0
 UI BOUND z(0_n2_0) 2
 LI BOUND z(0_n2_1) 0
 UI BOUND z(0_n2_1) 2
 LI BOUND z(0_n3_0) 0
 UI BOUND z(0_n3_0) 2
 LI BOUND z(0_n3_1) 0
 UI BOUND z(0_n3_1) 2
 LI BOUND z(1_n0_0) 0
 UI BOUND z(1_n0_0) 2
 LI BOUND z(1_n0_1) 0
 UI BOUND z(1_n0_1) 2
 LI BOUND z(1_n1_0) 0
 UI BOUND z(1_n1_0) 2
 LI BOUND z(1_n1_1) 0
 UI BOUND z(1_n1_1) 2
 LI BOUND z(1_n2_0) 0
 UI BOUND z(1_n2_0) 2
 LI BOUND z(1_n2_1) 0
 UI BOUND z(1_n2_1) 2
 LI BOUND z(1_n3_0) 0
 UI BOUND z(1_n3_0) 2
 LI BOUND z(1_n3_1) 0
 UI BOUND z(1_n3_1) 2
 LI BOUND z(2_n0_0) 0
 UI BOUND z(2_n0_0) 1
 LI BOUND z(2_n0_1) 0
 UI BOUND z(2_n0_1) 1
 LI BOUND z(2_n1_0) 0
 UI BOUND z(2_n1_0) 1
 LI BOUND z(2_n1_1) 0
 UI BOUND z(2_n1_1) 1
 LI BOUND z(2_n2_0) 0
 UI BOUND z(2_n2_0) 1
 LI BOUND z(2_n2_1) 0
 UI BOUND z(2_n2_1) 1
 LI BOUND z(2_n3_0) 0
 UI BOUND z(2_n3_0) 1
 LI BOUND z(2_n3_1) 0
 UI BOUND z(2_n3_1) 1
 BV BOUND u(n0_0)
 BV BOUND u(n0_1)
 BV BOUND u(n1_0)
 BV BOUND u(n1_1)
 BV BOUND u(n2_0)
 BV BOUND u(n2_1)
 BV BOUND u(n3_0)
 BV BOUND u(n3_1)
 BV BOUND full(n0_0)
 BV BOUND full(n0_1)
 BV BOUND full(n1_0)
 BV BOUND full(n1_1)
 BV BOUND full(n2_0)
 BV BOUND full(n2_1)
 BV BOUND full(n3_0)
 BV BOUND full(n3_1)
 BV BOUND room(n0_0)
 BV BOUND room(n0_1)
 BV BOUND room(n1_0)
 BV BOUND room(n1_1)
 BV BOUND room(n2_0)
 BV BOUND room(n2_1)
 BV BOUND room(n3_0)
 BV BOUND room(n3_1)
 BV BOUND frag(n0_0)
 BV BOUND frag(n0_1)
 BV BOUND frag(n1_0)
 BV BOUND frag(n1_1)
 BV BOUND frag(n2_0)
 BV BOUND frag(n2_1)
 BV BOUND frag(n3_0)
 BV BOUND frag(n3_1)
ENDATA
