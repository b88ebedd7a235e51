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
 E  c_e_group(0_n0_0)_
 E  c_e_group(0_n1_0)_
 E  c_e_group(1_n0_0)_
 E  c_e_group(1_n1_0)_
 E  c_e_group(2_n0_0)_
 E  c_e_group(2_n1_0)_
 L  c_u_compute(n0_0)_
 L  c_u_compute(n0_1)_
 L  c_u_compute(n1_0)_
 L  c_u_compute(n1_1)_
 L  c_u_memory(n0_0)_
 L  c_u_memory(n0_1)_
 L  c_u_memory(n1_0)_
 L  c_u_memory(n1_1)_
 L  c_u_mig(n0_0__1g_10gb_)_
 L  c_u_mig(n0_0__3g_40gb_)_
 L  c_u_mig(n0_1__1g_10gb_)_
 L  c_u_mig(n0_1__3g_40gb_)_
 L  c_u_mig(n1_0__1g_10gb_)_
 L  c_u_mig(n1_0__3g_40gb_)_
 L  c_u_mig(n1_1__1g_10gb_)_
 L  c_u_mig(n1_1__3g_40gb_)_
 L  c_u_opened(n0_0)_
 L  c_u_opened(n0_1)_
 L  c_u_opened(n1_0)_
 L  c_u_opened(n1_1)_
 L  c_u_is_full(n0_0)_
 L  c_u_is_full(n0_1)_
 L  c_u_is_full(n1_0)_
 L  c_u_is_full(n1_1)_
 L  c_u_room_compute(n0_0)_
 L  c_u_room_compute(n0_1)_
 L  c_u_room_compute(n1_0)_
 L  c_u_room_compute(n1_1)_
 L  c_u_room_memory(n0_0)_
 L  c_u_room_memory(n0_1)_
 L  c_u_room_memory(n1_0)_
 L  c_u_room_memory(n1_1)_
 L  c_u_fragmented(n0_0)_
 L  c_u_fragmented(n0_1)_
 L  c_u_fragmented(n1_0)_
 L  c_u_fragmented(n1_1)_
 L  c_u_gpu_order(n0_0_1)_
 L  c_u_gpu_order(n1_0_1)_
 L  c_u_node_order(n0_n1)_
COLUMNS
     x(0_n0_0) c_e_demand(0)_ 1
     x(0_n0_0) c_e_group(0_n0_0)_ -1
     x(0_n1_0) c_e_demand(0)_ 1
     x(0_n1_0) c_e_group(0_n1_0)_ -1
     x(1_n0_0) c_e_demand(1)_ 1
     x(1_n0_0) c_e_group(1_n0_0)_ -1
     x(1_n1_0) c_e_demand(1)_ 1
     x(1_n1_0) c_e_group(1_n1_0)_ -1
     x(2_n0_0) c_e_demand(2)_ 1
     x(2_n0_0) c_e_group(2_n0_0)_ -1
     x(2_n1_0) c_e_demand(2)_ 1
     x(2_n1_0) c_e_group(2_n1_0)_ -1
     v(n0) objective 1
     v(n0) c_u_opened(n0_0)_ -1
     v(n0) c_u_opened(n0_1)_ -1
     v(n1) objective 1
     v(n1) c_u_opened(n1_0)_ -1
     v(n1) c_u_opened(n1_1)_ -1
     z(0_n0_0) c_e_group(0_n0_0)_ 1
     z(0_n0_0) c_u_compute(n0_0)_ 0.14285714285714285
     z(0_n0_0) c_u_memory(n0_0)_ 10
     z(0_n0_0) c_u_mig(n0_0__1g_10gb_)_ 1
     z(0_n0_0) c_u_is_full(n0_0)_ -0.14285714285714285
     z(0_n0_0) c_u_room_compute(n0_0)_ 0.14285714285714285
     z(0_n0_0) c_u_room_memory(n0_0)_ 10
     z(0_n0_0) c_u_gpu_order(n0_0_1)_ -0.14285714285714285
     z(0_n0_0) c_u_node_order(n0_n1)_ -0.14285714285714285
     z(0_n0_1) c_e_group(0_n0_0)_ 1
     z(0_n0_1) c_u_compute(n0_1)_ 0.14285714285714285
     z(0_n0_1) c_u_memory(n0_1)_ 10
     z(0_n0_1) c_u_mig(n0_1__1g_10gb_)_ 1
     z(0_n0_1) c_u_is_full(n0_1)_ -0.14285714285714285
     z(0_n0_1) c_u_room_compute(n0_1)_ 0.14285714285714285
     z(0_n0_1) c_u_room_memory(n0_1)_ 10
     z(0_n0_1) c_u_gpu_order(n0_0_1)_ 0.14285714285714285
     z(0_n0_1) c_u_node_order(n0_n1)_ -0.14285714285714285
     z(0_n1_0) c_e_group(0_n1_0)_ 1
     z(0_n1_0) c_u_compute(n1_0)_ 0.14285714285714285
     z(0_n1_0) c_u_memory(n1_0)_ 10
     z(0_n1_0) c_u_mig(n1_0__1g_10gb_)_ 1
     z(0_n1_0) c_u_is_full(n1_0)_ -0.14285714285714285
     z(0_n1_0) c_u_room_compute(n1_0)_ 0.14285714285714285
     z(0_n1_0) c_u_room_memory(n1_0)_ 10
     z(0_n1_0) c_u_gpu_order(n1_0_1)_ -0.14285714285714285
     z(0_n1_0) c_u_node_order(n0_n1)_ 0.14285714285714285
     z(0_n1_1) c_e_group(0_n1_0)_ 1
     z(0_n1_1) c_u_compute(n1_1)_ 0.14285714285714285
     z(0_n1_1) c_u_memory(n1_1)_ 10
     z(0_n1_1) c_u_mig(n1_1__1g_10gb_)_ 1
     z(0_n1_1) c_u_is_full(n1_1)_ -0.14285714285714285
     z(0_n1_1) c_u_room_compute(n1_1)_ 0.14285714285714285
     z(0_n1_1) c_u_room_memory(n1_1)_ 10
     z(0_n1_1) c_u_gpu_order(n1_0_1)_ 0.14285714285714285
     z(0_n1_1) c_u_node_order(n0_n1)_ 0.14285714285714285
     z(1_n0_0) c_e_group(1_n0_0)_ 1
     z(1_n0_0) c_u_compute(n0_0)_ 0.42857142857142855
     z(1_n0_0) c_u_memory(n0_0)_ 40
     z(1_n0_0) c_u_mig(n0_0__3g_40gb_)_ 1
     z(1_n0_0) c_u_is_full(n0_0)_ -0.42857142857142855
     z(1_n0_0) c_u_room_compute(n0_0)_ 0.42857142857142855
     z(1_n0_0) c_u_room_memory(n0_0)_ 40
     z(1_n0_0) c_u_gpu_order(n0_0_1)_ -0.42857142857142855
     z(1_n0_0) c_u_node_order(n0_n1)_ -0.42857142857142855
     z(1_n0_1) c_e_group(1_n0_0)_ 1
     z(1_n0_1) c_u_compute(n0_1)_ 0.42857142857142855
     z(1_n0_1) c_u_memory(n0_1)_ 40
     z(1_n0_1) c_u_mig(n0_1__3g_40gb_)_ 1
     z(1_n0_1) c_u_is_full(n0_1)_ -0.42857142857142855
     z(1_n0_1) c_u_room_compute(n0_1)_ 0.42857142857142855
     z(1_n0_1) c_u_room_memory(n0_1)_ 40
     z(1_n0_1) c_u_gpu_order(n0_0_1)_ 0.42857142857142855
     z(1_n0_1) c_u_node_order(n0_n1)_ -0.42857142857142855
     z(1_n1_0) c_e_group(1_n1_0)_ 1
     z(1_n1_0) c_u_compute(n1_0)_ 0.42857142857142855
     z(1_n1_0) c_u_memory(n1_0)_ 40
     z(1_n1_0) c_u_mig(n1_0__3g_40gb_)_ 1
     z(1_n1_0) c_u_is_full(n1_0)_ -0.42857142857142855
     z(1_n1_0) c_u_room_compute(n1_0)_ 0.42857142857142855
     z(1_n1_0) c_u_room_memory(n1_0)_ 40
     z(1_n1_0) c_u_gpu_order(n1_0_1)_ -0.42857142857142855
     z(1_n1_0) c_u_node_order(n0_n1)_ 0.42857142857142855
     z(1_n1_1) c_e_group(1_n1_0)_ 1
     z(1_n1_1) c_u_compute(n1_1)_ 0.42857142857142855
     z(1_n1_1) c_u_memory(n1_1)_ 40
     z(1_n1_1) c_u_mig(n1_1__3g_40gb_)_ 1
     z(1_n1_1) c_u_is_full(n1_1)_ -0.42857142857142855
     z(1_n1_1) c_u_room_compute(n1_1)_ 0.42857142857142855
     z(1_n1_1) c_u_room_memory(n1_1)_ 40
     z(1_n1_1) c_u_gpu_order(n1_0_1)_ 0.42857142857142855
     z(1_n1_1) c_u_node_order(n0_n1)_ 0.42857142857142855
     z(2_n0_0) c_e_group(2_n0_0)_ 1
     z(2_n0_0) c_u_compute(n0_0)_ 1
     z(2_n0_0) c_u_memory(n0_0)_ 72
     z(2_n0_0) c_u_is_full(n0_0)_ -1
     z(2_n0_0) c_u_room_compute(n0_0)_ 1
     z(2_n0_0) c_u_room_memory(n0_0)_ 72
     z(2_n0_0) c_u_gpu_order(n0_0_1)_ -1
     z(2_n0_0) c_u_node_order(n0_n1)_ -1
     z(2_n0_1) c_e_group(2_n0_0)_ 1
     z(2_n0_1) c_u_compute(n0_1)_ 1
     z(2_n0_1) c_u_memory(n0_1)_ 72
     z(2_n0_1) c_u_is_full(n0_1)_ -1
     z(2_n0_1) c_u_room_compute(n0_1)_ 1
     z(2_n0_1) c_u_room_memory(n0_1)_ 72
     z(2_n0_1) c_u_gpu_order(n0_0_1)_ 1
     z(2_n0_1) c_u_node_order(n0_n1)_ -1
     z(2_n1_0) c_e_group(2_n1_0)_ 1
     z(2_n1_0) c_u_compute(n1_0)_ 1
     z(2_n1_0) c_u_memory(n1_0)_ 72
     z(2_n1_0) c_u_is_full(n1_0)_ -1
     z(2_n1_0) c_u_room_compute(n1_0)_ 1
     z(2_n1_0) c_u_room_memory(n1_0)_ 72
     z(2_n1_0) c_u_gpu_order(n1_0_1)_ -1
     z(2_n1_0) c_u_node_order(n0_n1)_ 1
     z(2_n1_1) c_e_group(2_n1_0)_ 1
     z(2_n1_1) c_u_compute(n1_1)_ 1
     z(2_n1_1) c_u_memory(n1_1)_ 72
     z(2_n1_1) c_u_is_full(n1_1)_ -1
     z(2_n1_1) c_u_room_compute(n1_1)_ 1
     z(2_n1_1) c_u_room_memory(n1_1)_ 72
     z(2_n1_1) c_u_gpu_order(n1_0_1)_ 1
     z(2_n1_1) c_u_node_order(n0_n1)_ 1
     u(n0_0) objective 3
     u(n0_0) c_u_compute(n0_0)_ -1
     u(n0_0) c_u_memory(n0_0)_ -80
     u(n0_0) c_u_opened(n0_0)_ 1
     u(n0_0) c_u_fragmented(n0_0)_ 1
     u(n0_1) objective 3
     u(n0_1) c_u_compute(n0_1)_ -1
     u(n0_1) c_u_memory(n0_1)_ -80
     u(n0_1) c_u_opened(n0_1)_ 1
     u(n0_1) c_u_fragmented(n0_1)_ 1
     u(n1_0) objective 3
     u(n1_0) c_u_compute(n1_0)_ -1
     u(n1_0) c_u_memory(n1_0)_ -80
     u(n1_0) c_u_opened(n1_0)_ 1
     u(n1_0) c_u_fragmented(n1_0)_ 1
     u(n1_1) objective 3
     u(n1_1) c_u_compute(n1_1)_ -1
     u(n1_1) c_u_memory(n1_1)_ -80
     u(n1_1) c_u_opened(n1_1)_ 1
     u(n1_1) c_u_fragmented(n1_1)_ 1
     full(n0_0) c_u_is_full(n0_0)_ 0.99999899999999997
     full(n0_0) c_u_fragmented(n0_0)_ -1
     full(n0_1) c_u_is_full(n0_1)_ 0.99999899999999997
     full(n0_1) c_u_fragmented(n0_1)_ -1
     full(n1_0) c_u_is_full(n1_0)_ 0.99999899999999997
     full(n1_0) c_u_fragmented(n1_0)_ -1
     full(n1_1) c_u_is_full(n1_1)_ 0.99999899999999997
     full(n1_1) c_u_fragmented(n1_1)_ -1
     room(n0_0) c_u_room_compute(n0_0)_ 0.14285714285714285
     room(n0_0) c_u_room_memory(n0_0)_ 10
     room(n0_0) c_u_fragmented(n0_0)_ -1
     room(n0_1) c_u_room_compute(n0_1)_ 0.14285714285714285
     room(n0_1) c_u_room_memory(n0_1)_ 10
     room(n0_1) c_u_fragmented(n0_1)_ -1
     room(n1_0) c_u_room_compute(n1_0)_ 0.14285714285714285
     room(n1_0) c_u_room_memory(n1_0)_ 10
     room(n1_0) c_u_fragmented(n1_0)_ -1
     room(n1_1) c_u_room_compute(n1_1)_ 0.14285714285714285
     room(n1_1) c_u_room_memory(n1_1)_ 10
     room(n1_1) c_u_fragmented(n1_1)_ -1
     frag(n0_0) objective 15
     frag(n0_0) c_u_fragmented(n0_0)_ -1
     frag(n0_1) objective 15
     frag(n0_1) c_u_fragmented(n0_1)_ -1
     frag(n1_0) objective 15
     frag(n1_0) c_u_fragmented(n1_0)_ -1
     frag(n1_1) objective 15
     frag(n1_1) c_u_fragmented(n1_1)_ -1
RHS
     RHS c_e_demand(0)_ 5
     RHS c_e_demand(1)_ 3
     RHS c_e_demand(2)_ 1
     RHS c_e_group(0_n0_0)_ 0
     RHS c_e_group(0_n1_0)_ 0
     RHS c_e_group(1_n0_0)_ 0
     RHS c_e_group(1_n1_0)_ 0
     RHS c_e_group(2_n0_0)_ 0
     RHS c_e_group(2_n1_0)_ 0
     RHS c_u_compute(n0_0)_ 0
     RHS c_u_compute(n0_1)_ 0
     RHS c_u_compute(n1_0)_ 0
     RHS c_u_compute(n1_1)_ 0
     RHS c_u_memory(n0_0)_ 0
     RHS c_u_memory(n0_1)_ 0
     RHS c_u_memory(n1_0)_ 0
     RHS c_u_memory(n1_1)_ 0
     RHS c_u_mig(n0_0__1g_10gb_)_ 7
     RHS c_u_mig(n0_0__3g_40gb_)_ 2
     RHS c_u_mig(n0_1__1g_10gb_)_ 7
     RHS c_u_mig(n0_1__3g_40gb_)_ 2
     RHS c_u_mig(n1_0__1g_10gb_)_ 7
     RHS c_u_mig(n1_0__3g_40gb_)_ 2
     RHS c_u_mig(n1_1__1g_10gb_)_ 7
     RHS c_u_mig(n1_1__3g_40gb_)_ 2
     RHS c_u_opened(n0_0)_ 0
     RHS c_u_opened(n0_1)_ 0
     RHS c_u_opened(n1_0)_ 0
     RHS c_u_opened(n1_1)_ 0
     RHS c_u_is_full(n0_0)_ 0
     RHS c_u_is_full(n0_1)_ 0
     RHS c_u_is_full(n1_0)_ 0
     RHS c_u_is_full(n1_1)_ 0
     RHS c_u_room_compute(n0_0)_ 1
     RHS c_u_room_compute(n0_1)_ 1
     RHS c_u_room_compute(n1_0)_ 1
     RHS c_u_room_compute(n1_1)_ 1
     RHS c_u_room_memory(n0_0)_ 80
     RHS c_u_room_memory(n0_1)_ 80
     RHS c_u_room_memory(n1_0)_ 80
     RHS c_u_room_memory(n1_1)_ 80
     RHS c_u_fragmented(n0_0)_ 0
     RHS c_u_fragmented(n0_1)_ 0
     RHS c_u_fragmented(n1_0)_ 0
     RHS c_u_fragmented(n1_1)_ 0
     RHS c_u_gpu_order(n0_0_1)_ 0
     RHS c_u_gpu_order(n1_0_1)_ 0
     RHS c_u_node_order(n0_n1)_ 0
BOUNDS
 LI BOUND x(0_n0_0) 0
 UI BOUND x(0_n0_0) 5
 LI BOUND x(0_n1_0) 0
 UI BOUND x(0_n1_0) 5
 LI BOUND x(1_n0_0) 0
 UI BOUND x(1_n0_0) 3
 LI BOUND x(1_n1_0) 0
 UI BOUND x(1_n1_0) 3
 LI BOUND x(2_n0_0) 0
 UI BOUND x(2_n0_0) 1
 LI BOUND x(2_n1_0) 0
 UI BOUND x(2_n1_0) 1
 BV BOUND v(n0)
 BV BOUND v(n1)
 LI BOUND z(0_n0_0) 0
 UI BOUND z(0_n0_0) 5
 LI BOUND z(0_n0_1) 0
 UI BOUND z(0_n0_1) 5
 LI BOUND z(0_n1_0) 0
 UI BOUND z(0_n1_0) 5
 LI BOUND z(0_n1_1) 0
 UI BOUND z(0_n1_1) 5
 LI BOUND z(1_n0_0) 0
 UI BOUND z(1_n0_0) 2
 LI BOUND z(1_n0_1) 0
 UI BOUND z(1_n0_1) 2
 LI BOUND z(1_n1_0) 0
 UI BOUND z(1_n1_0) 2
 LI BOUND z(1_n1_1) 0
 UI BOUND z(1_n1_1) 2
 LI BOUND z(2_n0_0) 0
 UI BOUND z(2_n0_0) 1
 LI BOUND z(2_n0_1) 0
 UI BOUND z(2_n0_1) 1
 LI BOUND z(2_n1_0) 0
 UI BOUND z(2_n1_0) 1
 LI BOUND z(2_n1_1) 0
 UI BOUND z(2_n1_1) 1
 BV BOUND u(n0_0)
 BV BOUND u(n0_1)
 BV BOUND u(n1_0)
 BV BOUND u(n1_1)
 BV BOUND full(n0_0)
 BV BOUND full(n0_1)
 BV BOUND full(n1_0)
 BV BOUND full(n1_1)
 BV BOUND room(n0_0)
 BV BOUND room(n0_1)
 BV BOUND room(n1_0)
 BV BOUND room(n1_1)
 BV BOUND frag(n0_0)
 BV BOUND frag(n0_1)
 BV BOUND frag(n1_0)
 BV BOUND frag(n1_1)
ENDATA
