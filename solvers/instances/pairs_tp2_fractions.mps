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
 L  c_u_spread(1_n0)_
 L  c_u_spread(1_n1)_
 L  c_u_spread(2_n0)_
 L  c_u_spread(2_n1)_
 E  c_e_group(0_n0_0)_
 E  c_e_group(0_n0_1)_
 E  c_e_group(0_n1_0)_
 E  c_e_group(0_n1_1)_
 E  c_e_group(1_n0_0)_
 E  c_e_group(1_n0_1)_
 E  c_e_group(1_n1_0)_
 E  c_e_group(1_n1_1)_
 E  c_e_group(2_n0_0)_
 E  c_e_group(2_n0_1)_
 E  c_e_group(2_n1_0)_
 E  c_e_group(2_n1_1)_
 L  c_u_distinct(0_n0_0)_
 L  c_u_distinct(0_n0_1)_
 L  c_u_distinct(0_n0_2)_
 L  c_u_distinct(0_n0_3)_
 L  c_u_distinct(0_n1_0)_
 L  c_u_distinct(0_n1_1)_
 L  c_u_distinct(0_n1_2)_
 L  c_u_distinct(0_n1_3)_
 L  c_u_compute(n0_0)_
 L  c_u_compute(n0_1)_
 L  c_u_compute(n0_2)_
 L  c_u_compute(n0_3)_
 L  c_u_compute(n1_0)_
 L  c_u_compute(n1_1)_
 L  c_u_compute(n1_2)_
 L  c_u_compute(n1_3)_
 L  c_u_memory(n0_0)_
 L  c_u_memory(n0_1)_
 L  c_u_memory(n0_2)_
 L  c_u_memory(n0_3)_
 L  c_u_memory(n1_0)_
 L  c_u_memory(n1_1)_
 L  c_u_memory(n1_2)_
 L  c_u_memory(n1_3)_
 L  c_u_opened(n0_0)_
 L  c_u_opened(n0_1)_
 L  c_u_opened(n0_2)_
 L  c_u_opened(n0_3)_
 L  c_u_opened(n1_0)_
 L  c_u_opened(n1_1)_
 L  c_u_opened(n1_2)_
 L  c_u_opened(n1_3)_
 L  c_u_is_full(n0_0)_
 L  c_u_is_full(n0_1)_
 L  c_u_is_full(n0_2)_
 L  c_u_is_full(n0_3)_
 L  c_u_is_full(n1_0)_
 L  c_u_is_full(n1_1)_
 L  c_u_is_full(n1_2)_
 L  c_u_is_full(n1_3)_
 L  c_u_room_compute(n0_0)_
 L  c_u_room_compute(n0_1)_
 L  c_u_room_compute(n0_2)_
 L  c_u_room_compute(n0_3)_
 L  c_u_room_compute(n1_0)_
 L  c_u_room_compute(n1_1)_
 L  c_u_room_compute(n1_2)_
 L  c_u_room_compute(n1_3)_
 L  c_u_room_memory(n0_0)_
 L  c_u_room_memory(n0_1)_
 L  c_u_room_memory(n0_2)_
 L  c_u_room_memory(n0_3)_
 L  c_u_room_memory(n1_0)_
 L  c_u_room_memory(n1_1)_
 L  c_u_room_memory(n1_2)_
 L  c_u_room_memory(n1_3)_
 L  c_u_fragmented(n0_0)_
 L  c_u_fragmented(n0_1)_
 L  c_u_fragmented(n0_2)_
 L  c_u_fragmented(n0_3)_
 L  c_u_fragmented(n1_0)_
 L  c_u_fragmented(n1_1)_
 L  c_u_fragmented(n1_2)_
 L  c_u_fragmented(n1_3)_
 L  c_u_gpu_order(n0_0_1)_
 L  c_u_gpu_order(n0_2_3)_
 L  c_u_gpu_order(n1_0_1)_
 L  c_u_gpu_order(n1_2_3)_
 L  c_u_domain_order(n0_0)_
 L  c_u_domain_order(n1_0)_
 L  c_u_node_order(n0_n1)_
COLUMNS
     x(0_n0_0) c_e_demand(0)_ 1
     x(0_n0_0) c_u_spread(0_n0)_ 1
     x(0_n0_0) c_e_group(0_n0_0)_ -2
     x(0_n0_0) c_u_distinct(0_n0_0)_ -1
     x(0_n0_0) c_u_distinct(0_n0_1)_ -1
     x(0_n0_1) c_e_demand(0)_ 1
     x(0_n0_1) c_u_spread(0_n0)_ 1
     x(0_n0_1) c_e_group(0_n0_1)_ -2
     x(0_n0_1) c_u_distinct(0_n0_2)_ -1
     x(0_n0_1) c_u_distinct(0_n0_3)_ -1
     x(0_n1_0) c_e_demand(0)_ 1
     x(0_n1_0) c_u_spread(0_n1)_ 1
     x(0_n1_0) c_e_group(0_n1_0)_ -2
     x(0_n1_0) c_u_distinct(0_n1_0)_ -1
     x(0_n1_0) c_u_distinct(0_n1_1)_ -1
     x(0_n1_1) c_e_demand(0)_ 1
     x(0_n1_1) c_u_spread(0_n1)_ 1
     x(0_n1_1) c_e_group(0_n1_1)_ -2
     x(0_n1_1) c_u_distinct(0_n1_2)_ -1
     x(0_n1_1) c_u_distinct(0_n1_3)_ -1
     x(1_n0_0) c_e_demand(1)_ 1
     x(1_n0_0) c_u_spread(1_n0)_ 1
     x(1_n0_0) c_e_group(1_n0_0)_ -1
     x(1_n0_1) c_e_demand(1)_ 1
     x(1_n0_1) c_u_spread(1_n0)_ 1
     x(1_n0_1) c_e_group(1_n0_1)_ -1
     x(1_n1_0) c_e_demand(1)_ 1
     x(1_n1_0) c_u_spread(1_n1)_ 1
     x(1_n1_0) c_e_group(1_n1_0)_ -1
     x(1_n1_1) c_e_demand(1)_ 1
     x(1_n1_1) c_u_spread(1_n1)_ 1
     x(1_n1_1) c_e_group(1_n1_1)_ -1
     x(2_n0_0) c_e_demand(2)_ 1
     x(2_n0_0) c_u_spread(2_n0)_ 1
     x(2_n0_0) c_e_group(2_n0_0)_ -1
     x(2_n0_1) c_e_demand(2)_ 1
     x(2_n0_1) c_u_spread(2_n0)_ 1
     x(2_n0_1) c_e_group(2_n0_1)_ -1
     x(2_n1_0) c_e_demand(2)_ 1
     x(2_n1_0) c_u_spread(2_n1)_ 1
     x(2_n1_0) c_e_group(2_n1_0)_ -1
     x(2_n1_1) c_e_demand(2)_ 1
     x(2_n1_1) c_u_spread(2_n1)_ 1
     x(2_n1_1) c_e_group(2_n1_1)_ -1
     v(n0) objective 1
     v(n0) c_u_opened(n0_0)_ -1
     v(n0) c_u_opened(n0_1)_ -1
     v(n0) c_u_opened(n0_2)_ -1
     v(n0) c_u_opened(n0_3)_ -1
     v(n1) objective 1
     v(n1) c_u_opened(n1_0)_ -1
     v(n1) c_u_opened(n1_1)_ -1
     v(n1) c_u_opened(n1_2)_ -1
     v(n1) c_u_opened(n1_3)_ -1
     excess(0_n0) objective 243
     excess(0_n0) c_u_spread(0_n0)_ -1
     excess(0_n1) objective 243
     excess(0_n1) c_u_spread(0_n1)_ -1
     excess(1_n0) objective 243
     excess(1_n0) c_u_spread(1_n0)_ -1
     excess(1_n1) objective 243
     excess(1_n1) c_u_spread(1_n1)_ -1
     excess(2_n0) objective 243
     excess(2_n0) c_u_spread(2_n0)_ -1
     excess(2_n1) objective 243
     excess(2_n1) c_u_spread(2_n1)_ -1
     z(0_n0_0) c_e_group(0_n0_0)_ 1
     z(0_n0_0) c_u_distinct(0_n0_0)_ 1
     z(0_n0_0) c_u_compute(n0_0)_ 0.5
     z(0_n0_0) c_u_memory(n0_0)_ 36
     z(0_n0_0) c_u_is_full(n0_0)_ -0.5
     z(0_n0_0) c_u_room_compute(n0_0)_ 0.5
     z(0_n0_0) c_u_room_memory(n0_0)_ 36
     z(0_n0_0) c_u_gpu_order(n0_0_1)_ -0.5
     z(0_n0_0) c_u_domain_order(n0_0)_ -0.5
     z(0_n0_0) c_u_node_order(n0_n1)_ -0.5
     z(0_n0_1) c_e_group(0_n0_0)_ 1
     z(0_n0_1) c_u_distinct(0_n0_1)_ 1
     z(0_n0_1) c_u_compute(n0_1)_ 0.5
     z(0_n0_1) c_u_memory(n0_1)_ 36
     z(0_n0_1) c_u_is_full(n0_1)_ -0.5
     z(0_n0_1) c_u_room_compute(n0_1)_ 0.5
     z(0_n0_1) c_u_room_memory(n0_1)_ 36
     z(0_n0_1) c_u_gpu_order(n0_0_1)_ 0.5
     z(0_n0_1) c_u_domain_order(n0_0)_ -0.5
     z(0_n0_1) c_u_node_order(n0_n1)_ -0.5
     z(0_n0_2) c_e_group(0_n0_1)_ 1
     z(0_n0_2) c_u_distinct(0_n0_2)_ 1
     z(0_n0_2) c_u_compute(n0_2)_ 0.5
     z(0_n0_2) c_u_memory(n0_2)_ 36
     z(0_n0_2) c_u_is_full(n0_2)_ -0.5
     z(0_n0_2) c_u_room_compute(n0_2)_ 0.5
     z(0_n0_2) c_u_room_memory(n0_2)_ 36
     z(0_n0_2) c_u_gpu_order(n0_2_3)_ -0.5
     z(0_n0_2) c_u_domain_order(n0_0)_ 0.5
     z(0_n0_2) c_u_node_order(n0_n1)_ -0.5
     z(0_n0_3) c_e_group(0_n0_1)_ 1
     z(0_n0_3) c_u_distinct(0_n0_3)_ 1
     z(0_n0_3) c_u_compute(n0_3)_ 0.5
     z(0_n0_3) c_u_memory(n0_3)_ 36
     z(0_n0_3) c_u_is_full(n0_3)_ -0.5
     z(0_n0_3) c_u_room_compute(n0_3)_ 0.5
     z(0_n0_3) c_u_room_memory(n0_3)_ 36
     z(0_n0_3) c_u_gpu_order(n0_2_3)_ 0.5
     z(0_n0_3) c_u_domain_order(n0_0)_ 0.5
     z(0_n0_3) c_u_node_order(n0_n1)_ -0.5
     z(0_n1_0) c_e_group(0_n1_0)_ 1
     z(0_n1_0) c_u_distinct(0_n1_0)_ 1
     z(0_n1_0) c_u_compute(n1_0)_ 0.5
     z(0_n1_0) c_u_memory(n1_0)_ 36
     z(0_n1_0) c_u_is_full(n1_0)_ -0.5
     z(0_n1_0) c_u_room_compute(n1_0)_ 0.5
     z(0_n1_0) c_u_room_memory(n1_0)_ 36
     z(0_n1_0) c_u_gpu_order(n1_0_1)_ -0.5
     z(0_n1_0) c_u_domain_order(n1_0)_ -0.5
     z(0_n1_0) c_u_node_order(n0_n1)_ 0.5
     z(0_n1_1) c_e_group(0_n1_0)_ 1
     z(0_n1_1) c_u_distinct(0_n1_1)_ 1
     z(0_n1_1) c_u_compute(n1_1)_ 0.5
     z(0_n1_1) c_u_memory(n1_1)_ 36
     z(0_n1_1) c_u_is_full(n1_1)_ -0.5
     z(0_n1_1) c_u_room_compute(n1_1)_ 0.5
     z(0_n1_1) c_u_room_memory(n1_1)_ 36
     z(0_n1_1) c_u_gpu_order(n1_0_1)_ 0.5
     z(0_n1_1) c_u_domain_order(n1_0)_ -0.5
     z(0_n1_1) c_u_node_order(n0_n1)_ 0.5
     z(0_n1_2) c_e_group(0_n1_1)_ 1
     z(0_n1_2) c_u_distinct(0_n1_2)_ 1
     z(0_n1_2) c_u_compute(n1_2)_ 0.5
     z(0_n1_2) c_u_memory(n1_2)_ 36
     z(0_n1_2) c_u_is_full(n1_2)_ -0.5
     z(0_n1_2) c_u_room_compute(n1_2)_ 0.5
     z(0_n1_2) c_u_room_memory(n1_2)_ 36
     z(0_n1_2) c_u_gpu_order(n1_2_3)_ -0.5
     z(0_n1_2) c_u_domain_order(n1_0)_ 0.5
     z(0_n1_2) c_u_node_order(n0_n1)_ 0.5
     z(0_n1_3) c_e_group(0_n1_1)_ 1
     z(0_n1_3) c_u_distinct(0_n1_3)_ 1
     z(0_n1_3) c_u_compute(n1_3)_ 0.5
     z(0_n1_3) c_u_memory(n1_3)_ 36
     z(0_n1_3) c_u_is_full(n1_3)_ -0.5
     z(0_n1_3) c_u_room_compute(n1_3)_ 0.5
     z(0_n1_3) c_u_room_memory(n1_3)_ 36
     z(0_n1_3) c_u_gpu_order(n1_2_3)_ 0.5
     z(0_n1_3) c_u_domain_order(n1_0)_ 0.5
     z(0_n1_3) c_u_node_order(n0_n1)_ 0.5
     z(1_n0_0) c_e_group(1_n0_0)_ 1
     z(1_n0_0) c_u_compute(n0_0)_ 0.25
     z(1_n0_0) c_u_memory(n0_0)_ 18
     z(1_n0_0) c_u_is_full(n0_0)_ -0.25
     z(1_n0_0) c_u_room_compute(n0_0)_ 0.25
     z(1_n0_0) c_u_room_memory(n0_0)_ 18
     z(1_n0_0) c_u_gpu_order(n0_0_1)_ -0.25
     z(1_n0_0) c_u_domain_order(n0_0)_ -0.25
     z(1_n0_0) c_u_node_order(n0_n1)_ -0.25
     z(1_n0_1) c_e_group(1_n0_0)_ 1
     z(1_n0_1) c_u_compute(n0_1)_ 0.25
     z(1_n0_1) c_u_memory(n0_1)_ 18
     z(1_n0_1) c_u_is_full(n0_1)_ -0.25
     z(1_n0_1) c_u_room_compute(n0_1)_ 0.25
     z(1_n0_1) c_u_room_memory(n0_1)_ 18
     z(1_n0_1) c_u_gpu_order(n0_0_1)_ 0.25
     z(1_n0_1) c_u_domain_order(n0_0)_ -0.25
     z(1_n0_1) c_u_node_order(n0_n1)_ -0.25
     z(1_n0_2) c_e_group(1_n0_1)_ 1
     z(1_n0_2) c_u_compute(n0_2)_ 0.25
     z(1_n0_2) c_u_memory(n0_2)_ 18
     z(1_n0_2) c_u_is_full(n0_2)_ -0.25
     z(1_n0_2) c_u_room_compute(n0_2)_ 0.25
     z(1_n0_2) c_u_room_memory(n0_2)_ 18
     z(1_n0_2) c_u_gpu_order(n0_2_3)_ -0.25
     z(1_n0_2) c_u_domain_order(n0_0)_ 0.25
     z(1_n0_2) c_u_node_order(n0_n1)_ -0.25
     z(1_n0_3) c_e_group(1_n0_1)_ 1
     z(1_n0_3) c_u_compute(n0_3)_ 0.25
     z(1_n0_3) c_u_memory(n0_3)_ 18
     z(1_n0_3) c_u_is_full(n0_3)_ -0.25
     z(1_n0_3) c_u_room_compute(n0_3)_ 0.25
     z(1_n0_3) c_u_room_memory(n0_3)_ 18
     z(1_n0_3) c_u_gpu_order(n0_2_3)_ 0.25
     z(1_n0_3) c_u_domain_order(n0_0)_ 0.25
     z(1_n0_3) c_u_node_order(n0_n1)_ -0.25
     z(1_n1_0) c_e_group(1_n1_0)_ 1
     z(1_n1_0) c_u_compute(n1_0)_ 0.25
     z(1_n1_0) c_u_memory(n1_0)_ 18
     z(1_n1_0) c_u_is_full(n1_0)_ -0.25
     z(1_n1_0) c_u_room_compute(n1_0)_ 0.25
     z(1_n1_0) c_u_room_memory(n1_0)_ 18
     z(1_n1_0) c_u_gpu_order(n1_0_1)_ -0.25
     z(1_n1_0) c_u_domain_order(n1_0)_ -0.25
     z(1_n1_0) c_u_node_order(n0_n1)_ 0.25
     z(1_n1_1) c_e_group(1_n1_0)_ 1
     z(1_n1_1) c_u_compute(n1_1)_ 0.25
     z(1_n1_1) c_u_memory(n1_1)_ 18
     z(1_n1_1) c_u_is_full(n1_1)_ -0.25
     z(1_n1_1) c_u_room_compute(n1_1)_ 0.25
     z(1_n1_1) c_u_room_memory(n1_1)_ 18
     z(1_n1_1) c_u_gpu_order(n1_0_1)_ 0.25
     z(1_n1_1) c_u_domain_order(n1_0)_ -0.25
     z(1_n1_1) c_u_node_order(n0_n1)_ 0.25
     z(1_n1_2) c_e_group(1_n1_1)_ 1
     z(1_n1_2) c_u_compute(n1_2)_ 0.25
     z(1_n1_2) c_u_memory(n1_2)_ 18
     z(1_n1_2) c_u_is_full(n1_2)_ -0.25
     z(1_n1_2) c_u_room_compute(n1_2)_ 0.25
     z(1_n1_2) c_u_room_memory(n1_2)_ 18
     z(1_n1_2) c_u_gpu_order(n1_2_3)_ -0.25
     z(1_n1_2) c_u_domain_order(n1_0)_ 0.25
     z(1_n1_2) c_u_node_order(n0_n1)_ 0.25
     z(1_n1_3) c_e_group(1_n1_1)_ 1
     z(1_n1_3) c_u_compute(n1_3)_ 0.25
     z(1_n1_3) c_u_memory(n1_3)_ 18
     z(1_n1_3) c_u_is_full(n1_3)_ -0.25
     z(1_n1_3) c_u_room_compute(n1_3)_ 0.25
     z(1_n1_3) c_u_room_memory(n1_3)_ 18
     z(1_n1_3) c_u_gpu_order(n1_2_3)_ 0.25
     z(1_n1_3) c_u_domain_order(n1_0)_ 0.25
     z(1_n1_3) c_u_node_order(n0_n1)_ 0.25
     z(2_n0_0) c_e_group(2_n0_0)_ 1
     z(2_n0_0) c_u_compute(n0_0)_ 0.75
     z(2_n0_0) c_u_memory(n0_0)_ 54
     z(2_n0_0) c_u_is_full(n0_0)_ -0.75
     z(2_n0_0) c_u_room_compute(n0_0)_ 0.75
     z(2_n0_0) c_u_room_memory(n0_0)_ 54
     z(2_n0_0) c_u_gpu_order(n0_0_1)_ -0.75
     z(2_n0_0) c_u_domain_order(n0_0)_ -0.75
     z(2_n0_0) c_u_node_order(n0_n1)_ -0.75
     z(2_n0_1) c_e_group(2_n0_0)_ 1
     z(2_n0_1) c_u_compute(n0_1)_ 0.75
     z(2_n0_1) c_u_memory(n0_1)_ 54
     z(2_n0_1) c_u_is_full(n0_1)_ -0.75
     z(2_n0_1) c_u_room_compute(n0_1)_ 0.75
     z(2_n0_1) c_u_room_memory(n0_1)_ 54
     z(2_n0_1) c_u_gpu_order(n0_0_1)_ 0.75
     z(2_n0_1) c_u_domain_order(n0_0)_ -0.75
     z(2_n0_1) c_u_node_order(n0_n1)_ -0.75
     z(2_n0_2) c_e_group(2_n0_1)_ 1
     z(2_n0_2) c_u_compute(n0_2)_ 0.75
     z(2_n0_2) c_u_memory(n0_2)_ 54
     z(2_n0_2) c_u_is_full(n0_2)_ -0.75
     z(2_n0_2) c_u_room_compute(n0_2)_ 0.75
     z(2_n0_2) c_u_room_memory(n0_2)_ 54
     z(2_n0_2) c_u_gpu_order(n0_2_3)_ -0.75
     z(2_n0_2) c_u_domain_order(n0_0)_ 0.75
     z(2_n0_2) c_u_node_order(n0_n1)_ -0.75
     z(2_n0_3) c_e_group(2_n0_1)_ 1
     z(2_n0_3) c_u_compute(n0_3)_ 0.75
     z(2_n0_3) c_u_memory(n0_3)_ 54
     z(2_n0_3) c_u_is_full(n0_3)_ -0.75
     z(2_n0_3) c_u_room_compute(n0_3)_ 0.75
     z(2_n0_3) c_u_room_memory(n0_3)_ 54
     z(2_n0_3) c_u_gpu_order(n0_2_3)_ 0.75
     z(2_n0_3) c_u_domain_order(n0_0)_ 0.75
     z(2_n0_3) c_u_node_order(n0_n1)_ -0.75
     z(2_n1_0) c_e_group(2_n1_0)_ 1
     z(2_n1_0) c_u_compute(n1_0)_ 0.75
     z(2_n1_0) c_u_memory(n1_0)_ 54
     z(2_n1_0) c_u_is_full(n1_0)_ -0.75
     z(2_n1_0) c_u_room_compute(n1_0)_ 0.75
     z(2_n1_0) c_u_room_memory(n1_0)_ 54
     z(2_n1_0) c_u_gpu_order(n1_0_1)_ -0.75
     z(2_n1_0) c_u_domain_order(n1_0)_ -0.75
     z(2_n1_0) c_u_node_order(n0_n1)_ 0.75
     z(2_n1_1) c_e_group(2_n1_0)_ 1
     z(2_n1_1) c_u_compute(n1_1)_ 0.75
     z(2_n1_1) c_u_memory(n1_1)_ 54
     z(2_n1_1) c_u_is_full(n1_1)_ -0.75
     z(2_n1_1) c_u_room_compute(n1_1)_ 0.75
     z(2_n1_1) c_u_room_memory(n1_1)_ 54
     z(2_n1_1) c_u_gpu_order(n1_0_1)_ 0.75
     z(2_n1_1) c_u_domain_order(n1_0)_ -0.75
     z(2_n1_1) c_u_node_order(n0_n1)_ 0.75
     z(2_n1_2) c_e_group(2_n1_1)_ 1
     z(2_n1_2) c_u_compute(n1_2)_ 0.75
     z(2_n1_2) c_u_memory(n1_2)_ 54
     z(2_n1_2) c_u_is_full(n1_2)_ -0.75
     z(2_n1_2) c_u_room_compute(n1_2)_ 0.75
     z(2_n1_2) c_u_room_memory(n1_2)_ 54
     z(2_n1_2) c_u_gpu_order(n1_2_3)_ -0.75
     z(2_n1_2) c_u_domain_order(n1_0)_ 0.75
     z(2_n1_2) c_u_node_order(n0_n1)_ 0.75
     z(2_n1_3) c_e_group(2_n1_1)_ 1
     z(2_n1_3) c_u_compute(n1_3)_ 0.75
     z(2_n1_3) c_u_memory(n1_3)_ 54
     z(2_n1_3) c_u_is_full(n1_3)_ -0.75
     z(2_n1_3) c_u_room_compute(n1_3)_ 0.75
     z(2_n1_3) c_u_room_memory(n1_3)_ 54
     z(2_n1_3) c_u_gpu_order(n1_2_3)_ 0.75
     z(2_n1_3) c_u_domain_order(n1_0)_ 0.75
     z(2_n1_3) c_u_node_order(n0_n1)_ 0.75
     u(n0_0) objective 3
     u(n0_0) c_u_compute(n0_0)_ -1
     u(n0_0) c_u_memory(n0_0)_ -76
     u(n0_0) c_u_opened(n0_0)_ 1
     u(n0_0) c_u_fragmented(n0_0)_ 1
     u(n0_1) objective 3
     u(n0_1) c_u_compute(n0_1)_ -1
     u(n0_1) c_u_memory(n0_1)_ -76
     u(n0_1) c_u_opened(n0_1)_ 1
     u(n0_1) c_u_fragmented(n0_1)_ 1
     u(n0_2) objective 3
     u(n0_2) c_u_compute(n0_2)_ -1
     u(n0_2) c_u_memory(n0_2)_ -76
     u(n0_2) c_u_opened(n0_2)_ 1
     u(n0_2) c_u_fragmented(n0_2)_ 1
     u(n0_3) objective 3
     u(n0_3) c_u_compute(n0_3)_ -1
     u(n0_3) c_u_memory(n0_3)_ -76
     u(n0_3) c_u_opened(n0_3)_ 1
     u(n0_3) c_u_fragmented(n0_3)_ 1
     u(n1_0) objective 3
     u(n1_0) c_u_compute(n1_0)_ -1
     u(n1_0) c_u_memory(n1_0)_ -76
     u(n1_0) c_u_opened(n1_0)_ 1
     u(n1_0) c_u_fragmented(n1_0)_ 1
     u(n1_1) objective 3
     u(n1_1) c_u_compute(n1_1)_ -1
     u(n1_1) c_u_memory(n1_1)_ -76
     u(n1_1) c_u_opened(n1_1)_ 1
     u(n1_1) c_u_fragmented(n1_1)_ 1
     u(n1_2) objective 3
     u(n1_2) c_u_compute(n1_2)_ -1
     u(n1_2) c_u_memory(n1_2)_ -76
     u(n1_2) c_u_opened(n1_2)_ 1
     u(n1_2) c_u_fragmented(n1_2)_ 1
     u(n1_3) objective 3
     u(n1_3) c_u_compute(n1_3)_ -1
     u(n1_3) c_u_memory(n1_3)_ -76
     u(n1_3) c_u_opened(n1_3)_ 1
     u(n1_3) c_u_fragmented(n1_3)_ 1
     full(n0_0) c_u_is_full(n0_0)_ 0.99999899999999997
     full(n0_0) c_u_fragmented(n0_0)_ -1
     full(n0_1) c_u_is_full(n0_1)_ 0.99999899999999997
     full(n0_1) c_u_fragmented(n0_1)_ -1
     full(n0_2) c_u_is_full(n0_2)_ 0.99999899999999997
     full(n0_2) c_u_fragmented(n0_2)_ -1
     full(n0_3) c_u_is_full(n0_3)_ 0.99999899999999997
     full(n0_3) c_u_fragmented(n0_3)_ -1
     full(n1_0) c_u_is_full(n1_0)_ 0.99999899999999997
     full(n1_0) c_u_fragmented(n1_0)_ -1
     full(n1_1) c_u_is_full(n1_1)_ 0.99999899999999997
     full(n1_1) c_u_fragmented(n1_1)_ -1
     full(n1_2) c_u_is_full(n1_2)_ 0.99999899999999997
     full(n1_2) c_u_fragmented(n1_2)_ -1
     full(n1_3) c_u_is_full(n1_3)_ 0.99999899999999997
     full(n1_3) c_u_fragmented(n1_3)_ -1
     room(n0_0) c_u_room_compute(n0_0)_ 0.25
     room(n0_0) c_u_room_memory(n0_0)_ 18
     room(n0_0) c_u_fragmented(n0_0)_ -1
     room(n0_1) c_u_room_compute(n0_1)_ 0.25
     room(n0_1) c_u_room_memory(n0_1)_ 18
     room(n0_1) c_u_fragmented(n0_1)_ -1
     room(n0_2) c_u_room_compute(n0_2)_ 0.25
     room(n0_2) c_u_room_memory(n0_2)_ 18
     room(n0_2) c_u_fragmented(n0_2)_ -1
     room(n0_3) c_u_room_compute(n0_3)_ 0.25
     room(n0_3) c_u_room_memory(n0_3)_ 18
     room(n0_3) c_u_fragmented(n0_3)_ -1
     room(n1_0) c_u_room_compute(n1_0)_ 0.25
     room(n1_0) c_u_room_memory(n1_0)_ 18
     room(n1_0) c_u_fragmented(n1_0)_ -1
     room(n1_1) c_u_room_compute(n1_1)_ 0.25
     room(n1_1) c_u_room_memory(n1_1)_ 18
     room(n1_1) c_u_fragmented(n1_1)_ -1
     room(n1_2) c_u_room_compute(n1_2)_ 0.25
     room(n1_2) c_u_room_memory(n1_2)_ 18
     room(n1_2) c_u_fragmented(n1_2)_ -1
     room(n1_3) c_u_room_compute(n1_3)_ 0.25
     room(n1_3) c_u_room_memory(n1_3)_ 18
     room(n1_3) c_u_fragmented(n1_3)_ -1
     frag(n0_0) objective 27
     frag(n0_0) c_u_fragmented(n0_0)_ -1
     frag(n0_1) objective 27
     frag(n0_1) c_u_fragmented(n0_1)_ -1
     frag(n0_2) objective 27
     frag(n0_2) c_u_fragmented(n0_2)_ -1
     frag(n0_3) objective 27
     frag(n0_3) c_u_fragmented(n0_3)_ -1
     frag(n1_0) objective 27
     frag(n1_0) c_u_fragmented(n1_0)_ -1
     frag(n1_1) objective 27
     frag(n1_1) c_u_fragmented(n1_1)_ -1
     frag(n1_2) objective 27
     frag(n1_2) c_u_fragmented(n1_2)_ -1
     frag(n1_3) objective 27
     frag(n1_3) c_u_fragmented(n1_3)_ -1
RHS
     RHS c_e_demand(0)_ 3
     RHS c_e_demand(1)_ 4
     RHS c_e_demand(2)_ 2
     RHS c_u_spread(0_n0)_ 2
     RHS c_u_spread(0_n1)_ 2
     RHS c_u_spread(1_n0)_ 2
     RHS c_u_spread(1_n1)_ 2
     RHS c_u_spread(2_n0)_ 1
     RHS c_u_spread(2_n1)_ 1
     RHS c_e_group(0_n0_0)_ 0
     RHS c_e_group(0_n0_1)_ 0
     RHS c_e_group(0_n1_0)_ 0
     RHS c_e_group(0_n1_1)_ 0
     RHS c_e_group(1_n0_0)_ 0
     RHS c_e_group(1_n0_1)_ 0
     RHS c_e_group(1_n1_0)_ 0
     RHS c_e_group(1_n1_1)_ 0
     RHS c_e_group(2_n0_0)_ 0
     RHS c_e_group(2_n0_1)_ 0
     RHS c_e_group(2_n1_0)_ 0
     RHS c_e_group(2_n1_1)_ 0
     RHS c_u_distinct(0_n0_0)_ 0
     RHS c_u_distinct(0_n0_1)_ 0
     RHS c_u_distinct(0_n0_2)_ 0
     RHS c_u_distinct(0_n0_3)_ 0
     RHS c_u_distinct(0_n1_0)_ 0
     RHS c_u_distinct(0_n1_1)_ 0
     RHS c_u_distinct(0_n1_2)_ 0
     RHS c_u_distinct(0_n1_3)_ 0
     RHS c_u_compute(n0_0)_ 0
     RHS c_u_compute(n0_1)_ 0
     RHS c_u_compute(n0_2)_ 0
     RHS c_u_compute(n0_3)_ 0
     RHS c_u_compute(n1_0)_ 0
     RHS c_u_compute(n1_1)_ 0
     RHS c_u_compute(n1_2)_ 0
     RHS c_u_compute(n1_3)_ 0
     RHS c_u_memory(n0_0)_ 0
     RHS c_u_memory(n0_1)_ 0
     RHS c_u_memory(n0_2)_ 0
     RHS c_u_memory(n0_3)_ 0
     RHS c_u_memory(n1_0)_ 0
     RHS c_u_memory(n1_1)_ 0
     RHS c_u_memory(n1_2)_ 0
     RHS c_u_memory(n1_3)_ 0
     RHS c_u_opened(n0_0)_ 0
     RHS c_u_opened(n0_1)_ 0
     RHS c_u_opened(n0_2)_ 0
     RHS c_u_opened(n0_3)_ 0
     RHS c_u_opened(n1_0)_ 0
     RHS c_u_opened(n1_1)_ 0
     RHS c_u_opened(n1_2)_ 0
     RHS c_u_opened(n1_3)_ 0
     RHS c_u_is_full(n0_0)_ 0
     RHS c_u_is_full(n0_1)_ 0
     RHS c_u_is_full(n0_2)_ 0
     RHS c_u_is_full(n0_3)_ 0
     RHS c_u_is_full(n1_0)_ 0
     RHS c_u_is_full(n1_1)_ 0
     RHS c_u_is_full(n1_2)_ 0
     RHS c_u_is_full(n1_3)_ 0
     RHS c_u_room_compute(n0_0)_ 1
     RHS c_u_room_compute(n0_1)_ 1
     RHS c_u_room_compute(n0_2)_ 1
     RHS c_u_room_compute(n0_3)_ 1
     RHS c_u_room_compute(n1_0)_ 1
     RHS c_u_room_compute(n1_1)_ 1
     RHS c_u_room_compute(n1_2)_ 1
     RHS c_u_room_compute(n1_3)_ 1
     RHS c_u_room_memory(n0_0)_ 76
     RHS c_u_room_memory(n0_1)_ 76
     RHS c_u_room_memory(n0_2)_ 76
     RHS c_u_room_memory(n0_3)_ 76
     RHS c_u_room_memory(n1_0)_ 76
     RHS c_u_room_memory(n1_1)_ 76
     RHS c_u_room_memory(n1_2)_ 76
     RHS c_u_room_memory(n1_3)_ 76
     RHS c_u_fragmented(n0_0)_ 0
     RHS c_u_fragmented(n0_1)_ 0
     RHS c_u_fragmented(n0_2)_ 0
     RHS c_u_fragmented(n0_3)_ 0
     RHS c_u_fragmented(n1_0)_ 0
     RHS c_u_fragmented(n1_1)_ 0
     RHS c_u_fragmented(n1_2)_ 0
     RHS c_u_fragmented(n1_3)_ 0
     RHS c_u_gpu_order(n0_0_1)_ 0
     RHS c_u_gpu_order(n0_2_3)_ 0
     RHS c_u_gpu_order(n1_0_1)_ 0
     RHS c_u_gpu_order(n1_2_3)_ 0
     RHS c_u_domain_order(n0_0)_ 0
     RHS c_u_domain_order(n1_0)_ 0
     RHS c_u_node_order(n0_n1)_ 0
BOUNDS
 LI BOUND x(0_n0_0) 0
 UI BOUND x(0_n0_0) 2
 LI BOUND x(0_n0_1) 0
 UI BOUND x(0_n0_1) 2
 LI BOUND x(0_n1_0) 0
 UI BOUND x(0_n1_0) 2
 LI BOUND x(0_n1_1) 0
 UI BOUND x(0_n1_1) 2
 LI BOUND x(1_n0_0) 0
 UI BOUND x(1_n0_0) 4
 LI BOUND x(1_n0_1) 0
 UI BOUND x(1_n0_1) 4
 LI BOUND x(1_n1_0) 0
 UI BOUND x(1_n1_0) 4
 LI BOUND x(1_n1_1) 0
 UI BOUND x(1_n1_1) 4
 LI BOUND x(2_n0_0) 0
 UI BOUND x(2_n0_0) 2
 LI BOUND x(2_n0_1) 0
 UI BOUND x(2_n0_1) 2
 LI BOUND x(2_n1_0) 0
 UI BOUND x(2_n1_0) 2
 LI BOUND x(2_n1_1) 0
 UI BOUND x(2_n1_1) 2
 BV BOUND v(n0)
 BV BOUND v(n1)
 LO BOUND excess(0_n0) 0
 LO BOUND excess(0_n1) 0
 LO BOUND excess(1_n0) 0
 LO BOUND excess(1_n1) 0
 LO BOUND excess(2_n0) 0
 LO BOUND excess(2_n1) 0
 LI BOUND z(0_n0_0) 0
 UI BOUND z(0_n0_0) 2
 LI BOUND z(0_n0_1) 0
 UI BOUND z(0_n0_1) 2
 LI BOUND z(0_n0_2) 0
 UI BOUND z(0_n0_2) 2
 LI BOUND z(0_n0_3) 0
 UI BOUND z(0_n0_3) 2
 LI BOUND z(0_n1_0) 0
 UI BOUND z(0_n1_0) 2
 LI BOUND z(0_n1_1) 0
 UI BOUND z(0_n1_1) 2
 LI BOUND z(0_n1_2) 0
 UI BOUND z(0_n1_2) 2
 LI BOUND z(0_n1_3) 0
 UI BOUND z(0_n1_3) 2
 LI BOUND z(1_n0_0) 0
 UI BOUND z(1_n0_0) 4
 LI BOUND z(1_n0_1) 0
 UI BOUND z(1_n0_1) 4
 LI BOUND z(1_n0_2) 0
 UI BOUND z(1_n0_2) 4
 LI BOUND z(1_n0_3) 0
 UI BOUND z(1_n0_3) 4
 LI BOUND z(1_n1_0) 0
 UI BOUND z(1_n1_0) 4
 LI BOUND z(1_n1_1) 0
 UI BOUND z(1_n1_1) 4
 LI BOUND z(1_n1_2) 0
 UI BOUND z(1_n1_2) 4
 LI BOUND z(1_n1_3) 0
 UI BOUND z(1_n1_3) 4
 LI BOUND z(2_n0_0) 0
 UI BOUND z(2_n0_0) 1
 LI BOUND z(2_n0_1) 0
 UI BOUND z(2_n0_1) 1
 LI BOUND z(2_n0_2) 0
 UI BOUND z(2_n0_2) 1
 LI BOUND z(2_n0_3) 0
 UI BOUND z(2_n0_3) 1
 LI BOUND z(2_n1_0) 0
 UI BOUND z(2_n1_0) 1
 LI BOUND z(2_n1_1) 0
 UI BOUND z(2_n1_1) 1
 LI BOUND z(2_n1_2) 0
 UI BOUND z(2_n1_2) 1
 LI BOUND z(2_n1_3) 0
 UI BOUND z(2_n1_3) 1
 BV BOUND u(n0_0)
 BV BOUND u(n0_1)
 BV BOUND u(n0_2)
 BV BOUND u(n0_3)
 BV BOUND u(n1_0)
 BV BOUND u(n1_1)
 BV BOUND u(n1_2)
 BV BOUND u(n1_3)
 BV BOUND full(n0_0)
 BV BOUND full(n0_1)
 BV BOUND full(n0_2)
 BV BOUND full(n0_3)
 BV BOUND full(n1_0)
 BV BOUND full(n1_1)
 BV BOUND full(n1_2)
 BV BOUND full(n1_3)
 BV BOUND room(n0_0)
 BV BOUND room(n0_1)
 BV BOUND room(n0_2)
 BV BOUND room(n0_3)
 BV BOUND room(n1_0)
 BV BOUND room(n1_1)
 BV BOUND room(n1_2)
 BV BOUND room(n1_3)
 BV BOUND frag(n0_0)
 BV BOUND frag(n0_1)
 BV BOUND frag(n0_2)
 BV BOUND frag(n0_3)
 BV BOUND frag(n1_0)
 BV BOUND frag(n1_1)
 BV BOUND frag(n1_2)
 BV BOUND frag(n1_3)
ENDATA
