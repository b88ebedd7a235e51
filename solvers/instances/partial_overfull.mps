* Source:     Pyomo MPS Writer
* Format:     Free MPS
*
NAME placement_flat
OBJSENSE
 MIN
ROWS
 N  objective
 L  c_u_demand(0)_
 L  c_u_demand(1)_
 E  c_e_group(0_n0_0)_
 E  c_e_group(1_n0_0)_
 L  c_u_distinct(0_n0_0)_
 L  c_u_distinct(0_n0_1)_
 L  c_u_distinct(0_n0_2)_
 L  c_u_distinct(0_n0_3)_
 L  c_u_compute(n0_0)_
 L  c_u_compute(n0_1)_
 L  c_u_compute(n0_2)_
 L  c_u_compute(n0_3)_
 L  c_u_memory(n0_0)_
 L  c_u_memory(n0_1)_
 L  c_u_memory(n0_2)_
 L  c_u_memory(n0_3)_
 L  c_u_opened(n0_0)_
 L  c_u_opened(n0_1)_
 L  c_u_opened(n0_2)_
 L  c_u_opened(n0_3)_
 L  c_u_is_full(n0_0)_
 L  c_u_is_full(n0_1)_
 L  c_u_is_full(n0_2)_
 L  c_u_is_full(n0_3)_
 L  c_u_room_compute(n0_0)_
 L  c_u_room_compute(n0_1)_
 L  c_u_room_compute(n0_2)_
 L  c_u_room_compute(n0_3)_
 L  c_u_room_memory(n0_0)_
 L  c_u_room_memory(n0_1)_
 L  c_u_room_memory(n0_2)_
 L  c_u_room_memory(n0_3)_
 L  c_u_fragmented(n0_0)_
 L  c_u_fragmented(n0_1)_
 L  c_u_fragmented(n0_2)_
 L  c_u_fragmented(n0_3)_
 L  c_u_gpu_order(n0_0_1)_
 L  c_u_gpu_order(n0_1_2)_
 L  c_u_gpu_order(n0_2_3)_
 E  c_e_ONE_VAR_CONSTANT
COLUMNS
     x(0_n0_0) objective -160
     x(0_n0_0) c_u_demand(0)_ 1
     x(0_n0_0) c_e_group(0_n0_0)_ -2
     x(0_n0_0) c_u_distinct(0_n0_0)_ -1
     x(0_n0_0) c_u_distinct(0_n0_1)_ -1
     x(0_n0_0) c_u_distinct(0_n0_2)_ -1
     x(0_n0_0) c_u_distinct(0_n0_3)_ -1
     x(1_n0_0) objective -50
     x(1_n0_0) c_u_demand(1)_ 1
     x(1_n0_0) c_e_group(1_n0_0)_ -1
     v(n0) objective 1
     v(n0) c_u_opened(n0_0)_ -1
     v(n0) c_u_opened(n0_1)_ -1
     v(n0) c_u_opened(n0_2)_ -1
     v(n0) c_u_opened(n0_3)_ -1
     z(0_n0_0) c_e_group(0_n0_0)_ 1
     z(0_n0_0) c_u_distinct(0_n0_0)_ 1
     z(0_n0_0) c_u_compute(n0_0)_ 1
     z(0_n0_0) c_u_memory(n0_0)_ 72
     z(0_n0_0) c_u_is_full(n0_0)_ -1
     z(0_n0_0) c_u_room_compute(n0_0)_ 1
     z(0_n0_0) c_u_room_memory(n0_0)_ 72
     z(0_n0_0) c_u_gpu_order(n0_0_1)_ -1
     z(0_n0_1) c_e_group(0_n0_0)_ 1
     z(0_n0_1) c_u_distinct(0_n0_1)_ 1
     z(0_n0_1) c_u_compute(n0_1)_ 1
     z(0_n0_1) c_u_memory(n0_1)_ 72
     z(0_n0_1) c_u_is_full(n0_1)_ -1
     z(0_n0_1) c_u_room_compute(n0_1)_ 1
     z(0_n0_1) c_u_room_memory(n0_1)_ 72
     z(0_n0_1) c_u_gpu_order(n0_0_1)_ 1
     z(0_n0_1) c_u_gpu_order(n0_1_2)_ -1
     z(0_n0_2) c_e_group(0_n0_0)_ 1
     z(0_n0_2) c_u_distinct(0_n0_2)_ 1
     z(0_n0_2) c_u_compute(n0_2)_ 1
     z(0_n0_2) c_u_memory(n0_2)_ 72
     z(0_n0_2) c_u_is_full(n0_2)_ -1
     z(0_n0_2) c_u_room_compute(n0_2)_ 1
     z(0_n0_2) c_u_room_memory(n0_2)_ 72
     z(0_n0_2) c_u_gpu_order(n0_1_2)_ 1
     z(0_n0_2) c_u_gpu_order(n0_2_3)_ -1
     z(0_n0_3) c_e_group(0_n0_0)_ 1
     z(0_n0_3) c_u_distinct(0_n0_3)_ 1
     z(0_n0_3) c_u_compute(n0_3)_ 1
     z(0_n0_3) c_u_memory(n0_3)_ 72
     z(0_n0_3) c_u_is_full(n0_3)_ -1
     z(0_n0_3) c_u_room_compute(n0_3)_ 1
     z(0_n0_3) c_u_room_memory(n0_3)_ 72
     z(0_n0_3) c_u_gpu_order(n0_2_3)_ 1
     z(1_n0_0) c_e_group(1_n0_0)_ 1
     z(1_n0_0) c_u_compute(n0_0)_ 0.625
     z(1_n0_0) c_u_memory(n0_0)_ 45
     z(1_n0_0) c_u_is_full(n0_0)_ -0.625
     z(1_n0_0) c_u_room_compute(n0_0)_ 0.625
     z(1_n0_0) c_u_room_memory(n0_0)_ 45
     z(1_n0_0) c_u_gpu_order(n0_0_1)_ -0.625
     z(1_n0_1) c_e_group(1_n0_0)_ 1
     z(1_n0_1) c_u_compute(n0_1)_ 0.625
     z(1_n0_1) c_u_memory(n0_1)_ 45
     z(1_n0_1) c_u_is_full(n0_1)_ -0.625
     z(1_n0_1) c_u_room_compute(n0_1)_ 0.625
     z(1_n0_1) c_u_room_memory(n0_1)_ 45
     z(1_n0_1) c_u_gpu_order(n0_0_1)_ 0.625
     z(1_n0_1) c_u_gpu_order(n0_1_2)_ -0.625
     z(1_n0_2) c_e_group(1_n0_0)_ 1
     z(1_n0_2) c_u_compute(n0_2)_ 0.625
     z(1_n0_2) c_u_memory(n0_2)_ 45
     z(1_n0_2) c_u_is_full(n0_2)_ -0.625
     z(1_n0_2) c_u_room_compute(n0_2)_ 0.625
     z(1_n0_2) c_u_room_memory(n0_2)_ 45
     z(1_n0_2) c_u_gpu_order(n0_1_2)_ 0.625
     z(1_n0_2) c_u_gpu_order(n0_2_3)_ -0.625
     z(1_n0_3) c_e_group(1_n0_0)_ 1
     z(1_n0_3) c_u_compute(n0_3)_ 0.625
     z(1_n0_3) c_u_memory(n0_3)_ 45
     z(1_n0_3) c_u_is_full(n0_3)_ -0.625
     z(1_n0_3) c_u_room_compute(n0_3)_ 0.625
     z(1_n0_3) c_u_room_memory(n0_3)_ 45
     z(1_n0_3) c_u_gpu_order(n0_2_3)_ 0.625
     u(n0_0) objective 2
     u(n0_0) c_u_compute(n0_0)_ -1
     u(n0_0) c_u_memory(n0_0)_ -76
     u(n0_0) c_u_opened(n0_0)_ 1
     u(n0_0) c_u_fragmented(n0_0)_ 1
     u(n0_1) objective 2
     u(n0_1) c_u_compute(n0_1)_ -1
     u(n0_1) c_u_memory(n0_1)_ -76
     u(n0_1) c_u_opened(n0_1)_ 1
     u(n0_1) c_u_fragmented(n0_1)_ 1
     u(n0_2) objective 2
     u(n0_2) c_u_compute(n0_2)_ -1
     u(n0_2) c_u_memory(n0_2)_ -76
     u(n0_2) c_u_opened(n0_2)_ 1
     u(n0_2) c_u_fragmented(n0_2)_ 1
     u(n0_3) objective 2
     u(n0_3) c_u_compute(n0_3)_ -1
     u(n0_3) c_u_memory(n0_3)_ -76
     u(n0_3) c_u_opened(n0_3)_ 1
     u(n0_3) c_u_fragmented(n0_3)_ 1
     full(n0_0) c_u_is_full(n0_0)_ 0.99999899999999997
     full(n0_0) c_u_fragmented(n0_0)_ -1
     full(n0_1) c_u_is_full(n0_1)_ 0.99999899999999997
     full(n0_1) c_u_fragmented(n0_1)_ -1
     full(n0_2) c_u_is_full(n0_2)_ 0.99999899999999997
     full(n0_2) c_u_fragmented(n0_2)_ -1
     full(n0_3) c_u_is_full(n0_3)_ 0.99999899999999997
     full(n0_3) c_u_fragmented(n0_3)_ -1
     room(n0_0) c_u_room_compute(n0_0)_ 0.625
     room(n0_0) c_u_room_memory(n0_0)_ 45
     room(n0_0) c_u_fragmented(n0_0)_ -1
     room(n0_1) c_u_room_compute(n0_1)_ 0.625
     room(n0_1) c_u_room_memory(n0_1)_ 45
     room(n0_1) c_u_fragmented(n0_1)_ -1
     room(n0_2) c_u_room_compute(n0_2)_ 0.625
     room(n0_2) c_u_room_memory(n0_2)_ 45
     room(n0_2) c_u_fragmented(n0_2)_ -1
     room(n0_3) c_u_room_compute(n0_3)_ 0.625
     room(n0_3) c_u_room_memory(n0_3)_ 45
     room(n0_3) c_u_fragmented(n0_3)_ -1
     frag(n0_0) objective 10
     frag(n0_0) c_u_fragmented(n0_0)_ -1
     frag(n0_1) objective 10
     frag(n0_1) c_u_fragmented(n0_1)_ -1
     frag(n0_2) objective 10
     frag(n0_2) c_u_fragmented(n0_2)_ -1
     frag(n0_3) objective 10
     frag(n0_3) c_u_fragmented(n0_3)_ -1
     ONE_VAR_CONSTANT objective 470
     ONE_VAR_CONSTANT c_e_ONE_VAR_CONSTANT 1
RHS
     RHS c_u_demand(0)_ 2
     RHS c_u_demand(1)_ 3
     RHS c_e_group(0_n0_0)_ 0
     RHS c_e_group(1_n0_0)_ 0
     RHS c_u_distinct(0_n0_0)_ 0
     RHS c_u_distinct(0_n0_1)_ 0
     RHS c_u_distinct(0_n0_2)_ 0
     RHS c_u_distinct(0_n0_3)_ 0
     RHS c_u_compute(n0_0)_ 0
     RHS c_u_compute(n0_1)_ 0
     RHS c_u_compute(n0_2)_ 0
     RHS c_u_compute(n0_3)_ 0
     RHS c_u_memory(n0_0)_ 0
     RHS c_u_memory(n0_1)_ 0
     RHS c_u_memory(n0_2)_ 0
     RHS c_u_memory(n0_3)_ 0
     RHS c_u_opened(n0_0)_ 0
     RHS c_u_opened(n0_1)_ 0
     RHS c_u_opened(n0_2)_ 0
     RHS c_u_opened(n0_3)_ 0
     RHS c_u_is_full(n0_0)_ 0
     RHS c_u_is_full(n0_1)_ 0
     RHS c_u_is_full(n0_2)_ 0
     RHS c_u_is_full(n0_3)_ 0
     RHS c_u_room_compute(n0_0)_ 1
     RHS c_u_room_compute(n0_1)_ 1
     RHS c_u_room_compute(n0_2)_ 1
     RHS c_u_room_compute(n0_3)_ 1
     RHS c_u_room_memory(n0_0)_ 76
     RHS c_u_room_memory(n0_1)_ 76
     RHS c_u_room_memory(n0_2)_ 76
     RHS c_u_room_memory(n0_3)_ 76
     RHS c_u_fragmented(n0_0)_ 0
     RHS c_u_fragmented(n0_1)_ 0
     RHS c_u_fragmented(n0_2)_ 0
     RHS c_u_fragmented(n0_3)_ 0
     RHS c_u_gpu_order(n0_0_1)_ 0
     RHS c_u_gpu_order(n0_1_2)_ 0
     RHS c_u_gpu_order(n0_2_3)_ 0
     RHS c_e_ONE_VAR_CONSTANT 1
BOUNDS
 LI BOUND x(0_n0_0) 0
 UI BOUND x(0_n0_0) 2
 LI BOUND x(1_n0_0) 0
 UI BOUND x(1_n0_0) 3
 BV BOUND v(n0)
 LI BOUND z(0_n0_0) 0
 UI BOUND z(0_n0_0) 1
 LI BOUND z(0_n0_1) 0
 UI BOUND z(0_n0_1) 1
 LI BOUND z(0_n0_2) 0
 UI BOUND z(0_n0_2) 1
 LI BOUND z(0_n0_3) 0
 UI BOUND z(0_n0_3) 1
 LI BOUND z(1_n0_0) 0
 UI BOUND z(1_n0_0) 1
 LI BOUND z(1_n0_1) 0
 UI BOUND z(1_n0_1) 1
 LI BOUND z(1_n0_2) 0
 UI BOUND z(1_n0_2) 1
 LI BOUND z(1_n0_3) 0
 UI BOUND z(1_n0_3) 1
 BV BOUND u(n0_0)
 BV BOUND u(n0_1)
 BV BOUND u(n0_2)
 BV BOUND u(n0_3)
 BV BOUND full(n0_0)
 BV BOUND full(n0_1)
 BV BOUND full(n0_2)
 BV BOUND full(n0_3)
 BV BOUND room(n0_0)
 BV BOUND room(n0_1)
 BV BOUND room(n0_2)
 BV BOUND room(n0_3)
 BV BOUND frag(n0_0)
 BV BOUND frag(n0_1)
 BV BOUND frag(n0_2)
 BV BOUND frag(n0_3)
ENDATA
